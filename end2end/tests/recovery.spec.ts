// Forgot-password end to end: ask on the sign-in page, read the mail from the real SMTP
// server, open its link, choose a new password, sign in with it — with and without
// JavaScript.
import { expect, test, type Page } from "@playwright/test";
import { uniqueName } from "./support/actions";
import { linkMailedTo, signUpWithEmail, verifyFromMail } from "./support/mailbox";

const NEW_PASSWORD = "a brand new passphrase";

async function forgotAndReset(page: Page, username: string, email: string) {
  await page.goto("/login");
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  await expect(page).toHaveURL(/\/forgot-password$/);
  await page.getByLabel("Username or email").fill(email.toUpperCase());
  await page.getByRole("button", { name: "Send me a link" }).click();
  await expect(page.getByRole("status")).toContainText("a link to choose a new password is on its way");

  const link = await linkMailedTo(email, "/reset-password");
  await page.goto(link);
  await page.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Set the new password" }).click();
  await expect(page).toHaveURL(/\/login\?reset=1$/);
  await expect(page.getByRole("status")).toContainText("Your password has been changed");

  // The old password is gone, the new one signs in.
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/dashboard$/);

  // The link worked once: opened again, it says so instead of failing.
  await page.goto(link);
  await page.getByLabel("New password", { exact: true }).fill("yet another passphrase");
  await page.getByRole("button", { name: "Set the new password" }).click();
  await expect(page.getByRole("alert")).toContainText("already used or expired");
}

for (const javaScriptEnabled of [true, false]) {
  test.describe(`JavaScript ${javaScriptEnabled ? "on" : "off"}`, () => {
    test.use({ javaScriptEnabled });

    test("a forgotten password is reset from a mailed link and the new one signs in", async ({ page, context }) => {
      const username = uniqueName("reset");
      const email = `${username}@example.org`;
      await signUpWithEmail(page, username, email);
      await verifyFromMail(page, email);
      await context.clearCookies();
      await forgotAndReset(page, username, email);
    });
  });
}

test("the account page shows the address and whether it is verified", async ({ page }) => {
  const username = uniqueName("address");
  const email = `${username}@example.org`;
  await signUpWithEmail(page, username, email);
  await page.goto("/account");
  await expect(page.locator("#email-status")).toContainText("not verified yet");
  await verifyFromMail(page, email);
  await page.goto("/account");
  await expect(page.locator("#email-status")).toContainText(`${email} — verified`);
});
