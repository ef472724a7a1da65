import { expect, test } from "@playwright/test";
import { accessTtlSecs } from "./support/settings";
import {
  PASSWORD,
  createAdminWithCli,
  signIn,
  signOut,
  signUp,
  uniqueName,
  watchForScriptErrors,
} from "./support/actions";
import { adminLink, dashboardHeading, loginHeading, signedInAs, userRow } from "./support/finders";

test("sign up, sign out, sign in again, and stay signed in through silent renewals", async ({ page }) => {
  const problems = watchForScriptErrors(page);
  const name = uniqueName("ada");
  await signUp(page, name);
  await expect(dashboardHeading(page)).toBeVisible();
  await expect(signedInAs(page)).toHaveText(name);

  await signOut(page);
  await expect(page.getByRole("status")).toHaveText("You have signed out.");
  await signIn(page, name);
  await expect(page).toHaveURL(/\/dashboard$/);

  // Live through several access-token lifetimes without reloading.
  let renewals = 0;
  page.on("response", (response) => {
    if (response.url().endsWith("/api/refresh") && response.status() === 200) renewals += 1;
  });
  // Three renewals take about three lifetimes; waiting on the condition, not a fixed time,
  // passes as soon as they happened and fails with the count if they never do.
  await expect
    .poll(() => renewals, { timeout: accessTtlSecs * 5 * 1000, intervals: [250] })
    .toBeGreaterThanOrEqual(3);

  // The renewed cookies carry the next page load; the session is the same device.
  await page.getByRole("link", { name: "Devices", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Your devices" })).toBeVisible();
  await expect(page.getByText("This device")).toBeVisible();
  expect(problems).toEqual([]);
});

test("a visitor is sent to the login page and back to where they were going", async ({ page }) => {
  const name = uniqueName("next");
  await signUp(page, name);
  await signOut(page);
  await page.goto("/account");
  await expect(page).toHaveURL(/\/login\?next=\/account$/);
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  // The login page's own URL ends in "/account" too: compare the path.
  await expect(page).toHaveURL((url) => url.pathname === "/account");

  await page.goto("/login?next=https://evil.example/");
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
});

test("a wrong password is reported on the form", async ({ page }) => {
  const name = uniqueName("typo");
  await signUp(page, name);
  await signOut(page);
  await signIn(page, name, "not the right password");
  await expect(page.getByRole("alert")).toHaveText("Wrong username or password.");
  await expect(loginHeading(page)).toBeVisible();
});

test("three loads at once after the access token expired all stay signed in", async ({ context }) => {
  const first = await context.newPage();
  const name = uniqueName("restore");
  await signUp(first, name);
  await first.close();
  // What a laptop that slept leaves behind: the access cookie is gone, the refresh cookie
  // is not. A browser restoring three tabs sends three page loads with the same refresh
  // cookie at once; each server render renews with it. (Three tabs' navigations do not
  // reliably reach the server together, so the loads go through the context's request
  // API: the same cookie jar, truly concurrent.)
  await context.clearCookies({ name: "gatehouse_access" });
  const loads = await Promise.all(
    [1, 2, 3].map(() => context.request.get("/dashboard", { maxRedirects: 0 })),
  );
  for (const load of loads) {
    expect(load.status()).toBe(200);
    expect(await load.text()).toContain(`data-testid="username">${name}<`);
  }
  // The session survived: a tab opened now is signed in, and lists it once.
  const tab = await context.newPage();
  await tab.goto("/sessions");
  await expect(tab.getByText("This device")).toBeVisible();
  await expect(tab.locator("tr[data-session]")).toHaveCount(1);
});

test("signing out in one tab signs out the other tabs", async ({ context }) => {
  const first = await context.newPage();
  const name = uniqueName("tabs");
  await signUp(first, name);
  const second = await context.newPage();
  await second.goto("/dashboard");
  await expect(signedInAs(second)).toHaveText(name);

  await signOut(first);
  await expect(loginHeading(second)).toBeVisible({ timeout: 2_000 });
  await expect(second).toHaveURL(/\/login/);
});

test("an admin made by the CLI promotes a user, who then sees the admin console", async ({ browser }) => {
  const adminName = uniqueName("root");
  createAdminWithCli(adminName);
  const userContext = await browser.newContext();
  const user = await userContext.newPage();
  const userName = uniqueName("promoted");
  await signUp(user, userName);
  await expect(adminLink(user)).toHaveCount(0);
  await user.goto("/admin");
  await expect(user.getByRole("heading", { name: /403/ })).toBeVisible();

  const adminContext = await browser.newContext();
  const admin = await adminContext.newPage();
  await signIn(admin, adminName);
  await expect(adminLink(admin)).toBeVisible();
  await admin.goto(`/admin?search=${userName}`);
  const row = userRow(admin, userName);
  await expect(row.getByTestId("user-role")).toHaveText("user");
  await row.getByRole("button", { name: `Make admin: ${userName}` }).click();
  await expect(row.getByTestId("user-role")).toHaveText("admin");
  await expect(admin.getByRole("cell", { name: "user_updated" }).first()).toBeVisible();

  await user.goto("/dashboard");
  await expect(adminLink(user)).toBeVisible();
  await adminLink(user).click();
  await expect(user.getByRole("heading", { name: "Administration" })).toBeVisible();
  await userContext.close();
  await adminContext.close();
});

test("ending another device's session on the sessions page signs that device out", async ({ browser }) => {
  const name = uniqueName("devices");
  const laptopContext = await browser.newContext();
  const laptop = await laptopContext.newPage();
  await signUp(laptop, name);

  const phoneContext = await browser.newContext({ userAgent: "Phone browser (e2e)" });
  const phone = await phoneContext.newPage();
  await signIn(phone, name);
  await expect(phone).toHaveURL(/\/dashboard$/);

  await laptop.goto("/sessions");
  const phoneRow = laptop.getByRole("row", { name: /Phone browser/ });
  await expect(phoneRow).toBeVisible();
  await phoneRow.getByRole("button", { name: "Sign out" }).click();
  await expect(phoneRow).toHaveCount(0);

  await phone.reload();
  await expect(phone).toHaveURL(/\/login/);
  await expect(loginHeading(phone)).toBeVisible();
  await laptopContext.close();
  await phoneContext.close();
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("sign up, sign out and sign in work with plain forms", async ({ page }) => {
    const name = uniqueName("nojs");
    await signUp(page, name);
    await expect(dashboardHeading(page)).toBeVisible();
    await signOut(page);
    await signIn(page, name, "a wrong password here");
    await expect(page.getByRole("alert")).toHaveText("Wrong username or password.");
    await signIn(page, name);
    await expect(page).toHaveURL(/\/dashboard$/);
    await expect(signedInAs(page)).toHaveText(name);
  });

  test("a plain form that arrives mangled comes back to its page with a message", async ({ page }) => {
    // What a broken proxy or a hand-made post sends: none of the fields the form has.
    for (const [path, button] of [
      ["/login", "Sign in"],
      ["/signup", "Create account"],
    ]) {
      await page.route("**/api/**", (route) => route.continue({ postData: "unexpected=garbage" }));
      await page.goto(path);
      await page.getByLabel("Username").fill("someone");
      await page.getByLabel("Password").fill(PASSWORD);
      const landed = page.waitForResponse((response) => response.request().resourceType() === "document");
      await page.getByRole("button", { name: button }).click();
      expect((await landed).status()).toBeLessThan(500);
      await expect(page).toHaveURL((url) => url.pathname === path);
      await expect(page.getByRole("alert")).toContainText("missing field `username`");
      await page.unrouteAll();
    }
  });
});

test("the password form marks the refused field beside it, then changes the password, with and without JavaScript", async ({ browser }) => {
  for (const javaScriptEnabled of [true, false]) {
    const context = await browser.newContext({ javaScriptEnabled });
    const page = await context.newPage();
    const problems = watchForScriptErrors(page);
    const name = uniqueName(javaScriptEnabled ? "pw" : "pw-plain");
    await signUp(page, name);
    await page.goto("/account");
    const current = page.getByLabel("Current password");
    const fresh = page.getByLabel("New password");

    await current.fill("not my password at all");
    await fresh.fill("a brand new passphrase 7");
    await page.getByRole("button", { name: "Change password" }).click();
    await expect(current).toHaveAttribute("aria-invalid", "true");
    await expect(current).toHaveAccessibleDescription("This is not your current password.");
    await expect(fresh).toHaveAttribute("aria-invalid", "false");
    // The URL names the field; what was typed never goes into it.
    expect(page.url()).toContain("field=current_password");
    expect(page.url()).not.toContain("passphrase");
    expect(page.url()).not.toContain("not%20my");

    await current.fill(PASSWORD);
    await fresh.fill("short");
    await page.getByRole("button", { name: "Change password" }).click();
    await expect(fresh).toHaveAttribute("aria-invalid", "true");
    await expect(fresh).toHaveAccessibleDescription(/At least 8 characters/);
    await expect(current).toHaveAttribute("aria-invalid", "false");

    await current.fill(PASSWORD);
    await fresh.fill("a brand new passphrase 7");
    await page.getByRole("button", { name: "Change password" }).click();
    await expect(page.getByRole("status")).toHaveText("Your password has been changed.");
    await expect(current).toHaveAttribute("aria-invalid", "false");
    await signOut(page);
    await signIn(page, name, "a brand new passphrase 7");
    await expect(page).toHaveURL(/\/dashboard$/);
    expect(problems).toEqual([]);
    await context.close();
  }
});

test("ending a device's session that already ended is reported, without JavaScript too", async ({ browser }) => {
  const name = uniqueName("stale");
  for (const javaScriptEnabled of [true, false]) {
    const laptopContext = await browser.newContext({ javaScriptEnabled });
    const laptop = await laptopContext.newPage();
    if (javaScriptEnabled) await signUp(laptop, name);
    else await signIn(laptop, name);
    const phoneContext = await browser.newContext({ userAgent: `Stale phone ${javaScriptEnabled}` });
    const phone = await phoneContext.newPage();
    await signIn(phone, name);
    await expect(phone).toHaveURL(/\/dashboard$/);

    await laptop.goto("/sessions");
    const phoneRow = laptop.getByRole("row", { name: new RegExp(`Stale phone ${javaScriptEnabled}`) });
    await expect(phoneRow).toBeVisible();
    await signOut(phone);
    await phoneRow.getByRole("button", { name: "Sign out" }).click();
    await expect(laptop.getByRole("alert")).toHaveText("That no longer exists.");
    await expect(laptop).toHaveURL(/\/sessions\?error=not_found$/);
    await expect(phoneRow).toHaveCount(0);
    await laptopContext.close();
    await phoneContext.close();
  }
});
