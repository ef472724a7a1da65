// Signing in through another provider, in Chromium: panva's oidc-provider (npm, OpenID
// Certified) runs on loopback as provider `upstream` (playwright.config.ts starts it).
// Its interaction page signs in whoever the cookie `upstream_as` names: each test picks
// its own person there, so journeys never share an account at the provider.
import { type BrowserContext, expect, test } from "@playwright/test";
import { PASSWORD, signOut, signUp, uniqueName, watchForScriptErrors } from "./support/actions";

/** The provider's sign-in, in this browser from now on, is `account`'s: a cookie only
 * its interaction pages see (cookies ignore ports; Gatehouse has no such path). */
async function atTheProviderSignInAs(context: BrowserContext, account: string) {
  await context.addCookies([
    { name: "upstream_as", value: account, domain: "127.0.0.1", path: "/interaction" },
  ]);
}

for (const javaScriptEnabled of [true, false]) {
  const mode = javaScriptEnabled ? "on" : "off";

  test(`a first sign-in through another provider makes the account, the next finds it (JavaScript ${mode})`, async ({ browser }) => {
    const context = await browser.newContext({ javaScriptEnabled });
    const page = await context.newPage();
    const problems = watchForScriptErrors(page);
    const person = uniqueName(`up${mode}`);
    await atTheProviderSignInAs(context, person);

    await page.goto("/login");
    await page.getByRole("link", { name: "Continue with Upstream SSO" }).click();
    await expect(page).toHaveURL(/\/dashboard$/);
    await expect(page.getByText(person).first()).toBeVisible();

    // A provider-made account has no password: its page says so and offers one.
    await page.goto("/account");
    await expect(page.getByRole("heading", { name: "Set a password" })).toBeVisible();
    await expect(page.locator("#linked-accounts")).toContainText(`${person}@upstream.test`);

    await context.clearCookies({ domain: "127.0.0.1", name: "gatehouse_access" });
    await context.clearCookies({ domain: "127.0.0.1", name: "gatehouse_refresh" });
    await page.goto("/signup");
    await page.getByRole("link", { name: "Continue with Upstream SSO" }).click();
    await expect(page).toHaveURL(/\/dashboard$/);
    await expect(page.getByText(person).first()).toBeVisible();
    expect(problems).toEqual([]);
    await context.close();
  });

  test(`an account links a provider's account from its page, signs in with it, and unlinks it (JavaScript ${mode})`, async ({ browser }) => {
    const context = await browser.newContext({ javaScriptEnabled });
    const page = await context.newPage();
    const problems = watchForScriptErrors(page);
    const username = uniqueName(`link${mode}`);
    const elsewhere = `${username}.corp`;
    await atTheProviderSignInAs(context, elsewhere);
    await signUp(page, username);

    await page.goto("/account");
    await expect(page.getByRole("heading", { name: "Other providers" })).toBeVisible();
    await expect(page.locator("#linked-accounts")).toHaveText("No account at another provider is linked yet.");
    await page.getByLabel("Your password, to link").fill("not the password at all");
    await page.getByRole("button", { name: "Link Upstream SSO" }).click();
    // A plain form post in every browser: refused, it comes back to the section, saying so.
    await expect(page).toHaveURL(/\/account\?section=providers&error=invalid_input/);
    await expect(page.getByRole("alert").filter({ hasText: "not valid" })).toBeVisible();
    await expect(page.locator("#linked-accounts")).toHaveText("No account at another provider is linked yet.");

    await page.getByLabel("Your password, to link").fill(PASSWORD);
    await page.getByRole("button", { name: "Link Upstream SSO" }).click();
    await expect(page).toHaveURL(/\/account\?linked=1/);
    await expect(page.getByRole("status").filter({ hasText: "Linked: you can now sign in with that account too." })).toBeVisible();
    await expect(page.locator("#linked-accounts")).toContainText(`${elsewhere}@upstream.test`);

    // Signed out, the provider signs in to this account: no second one.
    await page.goto("/dashboard");
    await signOut(page);
    await page.getByRole("link", { name: "Continue with Upstream SSO" }).click();
    await expect(page).toHaveURL(/\/dashboard$/);
    await expect(page.getByText(username).first()).toBeVisible();

    await page.goto("/account");
    await page.getByLabel(new RegExp(`${elsewhere}@upstream\\.test`)).check();
    await page.getByLabel("Your password, to unlink").fill(PASSWORD);
    await page.getByRole("button", { name: "Unlink the chosen account" }).click();
    await expect(page).toHaveURL(/\/account\?unlinked=1/);
    await expect(page.getByRole("status").filter({ hasText: "Unlinked" })).toBeVisible();
    await expect(page.locator("#linked-accounts")).toHaveText("No account at another provider is linked yet.");
    expect(problems).toEqual([]);
    await context.close();
  });
}

test("an answer that belongs to no sign-in started here is a page that says so", async ({ page }) => {
  const response = await page.goto("/login/with/upstream/callback?code=made-up&state=made-up");
  expect(response?.status()).toBe(400);
  await expect(page.getByRole("heading", { name: "Sign-in not completed" })).toBeVisible();
  await expect(page.getByRole("alert")).toContainText("Upstream SSO");
  await expect(page.getByRole("link", { name: "Back to sign in" })).toBeVisible();
});
