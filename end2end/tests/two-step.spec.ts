// Two-step sign-in end to end: set up an authenticator app from the account page (the
// test computes codes from the shown secret, as the app would), sign in with a code and
// with a recovery code, turn it off — with and without JavaScript.
import { expect, test, type Page } from "@playwright/test";
import { PASSWORD, createAdminWithCli, signIn, signOut, signUp, uniqueName, watchForScriptErrors } from "./support/actions";
import { loginHeading, userRow } from "./support/finders";
import { totpCode } from "./support/totp";

async function setUpApp(page: Page): Promise<{ secret: string; recoveryCodes: string[] }> {
  await page.goto("/account");
  await expect(page.locator("#account-two-step")).toContainText("Off");
  await page.getByRole("link", { name: "Set up two-step sign-in" }).click();
  await expect(page).toHaveURL(/\/account\/two-step$/);
  await page.getByRole("button", { name: "Set up an authenticator app" }).click();
  await expect(page.getByRole("img", { name: "QR code of the secret" }).locator("svg")).toBeVisible();
  const secret = (await page.locator("#totp-secret").textContent())!.trim();
  const recoveryCodes = (await page.locator("#recovery-codes li").allTextContents()).map((code) => code.trim());
  expect(recoveryCodes).toHaveLength(10);
  await page.getByLabel("Six-digit code").fill(totpCode(secret));
  await page.getByRole("button", { name: "Turn on two-step sign-in" }).click();
  await expect(page).toHaveURL(/\/account\?two_step=on$/);
  await expect(page.locator("#account-two-step")).toContainText("On");
  return { secret, recoveryCodes };
}

async function enterCode(page: Page, code: string) {
  await expect(page).toHaveURL(/\/login\/code/);
  // These accounts have no passkey: a passkey could only fail, so none is offered.
  await expect(page.getByRole("button", { name: "Use a passkey instead" })).toHaveCount(0);
  await page.getByLabel("Code").fill(code);
  await page.getByRole("button", { name: "Continue" }).click();
}

for (const javaScriptEnabled of [true, false]) {
  test.describe(`JavaScript ${javaScriptEnabled ? "on" : "off"}`, () => {
    test.use({ javaScriptEnabled });

    test("an authenticator app guards the sign-in, a recovery code stands in for it once, and it can be turned off", async ({ page }) => {
      const problems = watchForScriptErrors(page);
      const username = uniqueName("totp");
      await signUp(page, username);
      const { secret, recoveryCodes } = await setUpApp(page);
      await signOut(page);

      // The password alone now leads to the code page; a wrong code is refused there.
      await signIn(page, username);
      await enterCode(page, "000000" === totpCode(secret, 1) ? "111111" : "000000");
      await expect(page.getByRole("alert")).toContainText("wrong or was already used");
      // The confirming code's step is spent: the app's next code signs in.
      await enterCode(page, totpCode(secret, 1));
      await expect(page).toHaveURL(/\/dashboard$/);
      await signOut(page);

      await signIn(page, username);
      await enterCode(page, recoveryCodes[0]);
      await expect(page).toHaveURL(/\/dashboard$/);
      await signOut(page);
      // Used once, the recovery code is gone.
      await signIn(page, username);
      await enterCode(page, recoveryCodes[0]);
      await expect(page.getByRole("alert")).toContainText("wrong or was already used");
      await enterCode(page, recoveryCodes[1]);
      await expect(page).toHaveURL(/\/dashboard$/);

      await page.goto("/account/two-step");
      await expect(page.locator("#two-step-status")).toContainText("Recovery codes left: 8");
      await page.getByLabel("Your password").fill(PASSWORD);
      await page.getByRole("button", { name: "Turn off two-step sign-in" }).click();
      await expect(page).toHaveURL(/\/account\?two_step=off$/);
      await signOut(page);
      await signIn(page, username);
      await expect(page).toHaveURL(/\/dashboard$/);
      expect(problems).toEqual([]);
    });

    test("new recovery codes replace every old one and stay shown, through a reload, until saved", async ({ page }) => {
      const problems = watchForScriptErrors(page);
      const username = uniqueName("codes");
      await signUp(page, username);
      const { recoveryCodes } = await setUpApp(page);

      await page.goto("/account/two-step");
      await page.getByRole("button", { name: "Make new recovery codes" }).click();
      const shown = page.locator("#new-recovery-codes li");
      await expect(shown).toHaveCount(10);
      const fresh = (await shown.allTextContents()).map((code) => code.trim());
      expect(fresh.filter((code) => recoveryCodes.includes(code))).toEqual([]);
      // A reload loses nothing: the same codes, until they are said to be saved.
      await page.reload();
      await expect(shown).toHaveCount(10);
      expect((await shown.allTextContents()).map((code) => code.trim())).toEqual(fresh);
      await page.getByRole("button", { name: "I have saved them" }).click();
      await expect(page.getByRole("button", { name: "Make new recovery codes" })).toBeVisible();
      await expect(shown).toHaveCount(0);
      await expect(page.locator("#recovery-codes-left")).toHaveText("10");
      await signOut(page);

      await signIn(page, username);
      await enterCode(page, recoveryCodes[0]);
      await expect(page.getByRole("alert")).toContainText("wrong or was already used");
      await enterCode(page, fresh[0]);
      await expect(page).toHaveURL(/\/dashboard$/);
      expect(problems).toEqual([]);
    });

    test("an admin resets the second factors of a user who lost them, from the admin page", async ({ page, browser }) => {
      const username = uniqueName("lost");
      await signUp(page, username);
      await setUpApp(page);

      const adminName = uniqueName("helpdesk");
      createAdminWithCli(adminName);
      const adminContext = await browser.newContext({ javaScriptEnabled });
      const admin = await adminContext.newPage();
      await signIn(admin, adminName);
      await expect(admin).toHaveURL(/\/dashboard$/);
      // Only accounts with a second factor offer the reset: the admin's own has none.
      await admin.goto(`/admin?search=${adminName}`);
      await expect(userRow(admin, adminName)).toBeVisible();
      await expect(admin.getByRole("button", { name: /^Reset second factors/ })).toHaveCount(0);
      await admin.goto(`/admin?search=${username}`);
      const row = userRow(admin, username);
      await row.getByRole("button", { name: `Reset second factors: ${username}` }).click();
      await expect(row.getByRole("button", { name: /^Reset second factors/ })).toHaveCount(0);
      await expect(row).toBeVisible();
      await expect(admin.getByRole("cell", { name: "second_factors_reset" }).first()).toBeVisible();
      await adminContext.close();

      // The reset ended the user's sessions; the password alone signs in now.
      await page.goto("/account");
      await expect(loginHeading(page)).toBeVisible();
      await signIn(page, username);
      await expect(page).toHaveURL(/\/dashboard$/);
      await page.goto("/account");
      await expect(page.locator("#account-two-step")).toContainText("Off");
    });
  });
}
