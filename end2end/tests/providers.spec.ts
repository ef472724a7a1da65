// Signing in through another provider, in Chromium: panva's oidc-provider (npm, OpenID
// Certified) runs on loopback as provider `upstream` (playwright.config.ts starts it).
// Its interaction page signs in whoever the cookie `upstream_as` names: each test picks
// its own person there, so journeys never share an account at the provider.
import { type BrowserContext, expect, test } from "@playwright/test";
import { PASSWORD, createAdminWithCli, signIn, signOut, signUp, uniqueName, watchForScriptErrors } from "./support/actions";

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
    // A plain form post in every browser: refused, it comes back to the section, saying
    // beside the box that the password was wrong.
    await expect(page).toHaveURL(/\/account\?section=providers&field=link_password&error=invalid_input/);
    await expect(page.locator("#field-link_password-error")).toHaveText("This is not your current password.");
    await expect(page.getByText("Some fields are not valid")).toHaveCount(0);
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

// The console's providers page, with JavaScript on and off: a provider added (refused
// first, what was typed kept but the secret), offered on the sign-in page and signing
// someone in through oidc-provider with the secret sealed here, turned off, removed.
// playwright.config.ts lets the provider send browsers back to `added-on`/`added-off`.
const upstreamSecret = "e2e-upstream-secret-e2e-upstream-secret";

for (const javaScriptEnabled of [true, false]) {
  const mode = javaScriptEnabled ? "on" : "off";

  test(`an admin adds a provider on the page, people sign in with it, it is turned off and removed (JavaScript ${mode})`, async ({ browser }) => {
    const admin = await browser.newContext({ javaScriptEnabled });
    const page = await admin.newPage();
    const problems = watchForScriptErrors(page);
    const adminName = uniqueName("providers");
    createAdminWithCli(adminName);
    await signIn(page, adminName);
    await expect(page).toHaveURL(/\/dashboard$/);
    await page.goto("/admin");
    await page.getByRole("link", { name: "Providers", exact: true }).click();
    await expect(page.getByRole("heading", { name: "Providers to sign in with" })).toBeVisible();
    await expect(page.locator('tr[data-provider="upstream"]').getByTestId("provider-state")).toHaveText("in the file");

    const id = `added-${mode}`;
    const name = `Added ${mode}`;
    const row = page.locator(`tr[data-provider="${id}"]`);
    await page.getByLabel("Name").fill(name);
    await page.getByLabel("Id", { exact: true }).fill(id);
    await page.getByLabel("Issuer").fill("http://sso.example.com");
    await page.getByLabel("Client id").fill("gatehouse-e2e");
    await page.getByLabel("Client secret").fill(upstreamSecret);
    await page.getByRole("button", { name: "Add the provider" }).click();
    await expect(page.getByRole("alert")).toHaveText("Some fields are not valid. Check them and try again.");
    await expect(page.getByLabel("Name")).toHaveValue(name);
    await expect(page.getByLabel("Issuer")).toHaveAttribute("aria-invalid", "true");
    // The secret never travels back in the URL (without JavaScript the page comes
    // back empty; with it, the field the browser kept may still hold it).
    expect(page.url()).not.toContain(upstreamSecret);
    if (!javaScriptEnabled) await expect(page.getByLabel("Client secret")).toHaveValue("");
    await expect(row).toHaveCount(0);

    await page.getByLabel("Issuer").fill("http://127.0.0.1:3190");
    await page.getByLabel("Client secret").fill(upstreamSecret);
    await page.getByRole("button", { name: "Add the provider" }).click();
    await expect(row.getByTestId("provider-state")).toHaveText("on");
    await expect(row).toContainText(`/login/with/${id}/callback`);

    // Someone signs in with it: the secret it keeps sealed is the one the provider knows.
    const visitor = await browser.newContext({ javaScriptEnabled });
    await atTheProviderSignInAs(visitor, uniqueName(`added${mode}`));
    const visit = await visitor.newPage();
    await visit.goto("/login");
    await visit.getByRole("link", { name: `Continue with ${name}` }).click();
    await expect(visit).toHaveURL(/\/dashboard$/);

    // Changed on the console: a new name, the secret kept (its field left empty); with
    // an account linked at it, its issuer stays.
    const renamed = `${name} renamed`;
    await page.reload();
    await expect(row.getByRole("cell").nth(4)).toHaveText("1");
    await row.getByRole("link", { name: `Change: ${name}` }).click();
    await expect(page.getByRole("heading", { name: `Change ${name}` })).toBeVisible();
    await expect(page.getByLabel("Id", { exact: true })).toHaveValue(id);
    await expect(page.getByLabel("Issuer")).toHaveAttribute("readonly", "");
    await expect(page.getByLabel("New client secret")).toHaveValue("");
    await page.getByLabel("Name").fill(renamed);
    await page.getByRole("button", { name: "Save the provider" }).click();
    await expect(page.getByRole("status")).toContainText("Changed");
    await expect(row.getByRole("cell").first()).toHaveText(renamed);
    await visit.goto("/login");
    await expect(visit.getByRole("link", { name: `Continue with ${renamed}` })).toBeVisible();

    await row.getByRole("button", { name: `Turn off: ${renamed}` }).click();
    await expect(row.getByTestId("provider-state")).toHaveText("off");
    await visit.goto("/login");
    await expect(visit.getByRole("link", { name: "Continue with Upstream SSO" })).toBeVisible();
    await expect(visit.getByRole("link", { name: `Continue with ${renamed}` })).toHaveCount(0);

    await row.getByRole("button", { name: `Remove: ${renamed}` }).click();
    await expect(row).toHaveCount(0);
    await page.goto("/admin");
    for (const kind of ["provider_added", "provider_changed", "provider_disabled", "provider_removed"]) {
      await expect(page.getByRole("cell", { name: kind }).first()).toBeVisible();
    }
    expect(problems).toEqual([]);
    await visitor.close();
    await admin.close();
  });
}

test("an answer that belongs to no sign-in started here is a page that says so", async ({ page }) => {
  const response = await page.goto("/login/with/upstream/callback?code=made-up&state=made-up");
  expect(response?.status()).toBe(400);
  await expect(page.getByRole("heading", { name: "Sign-in not completed" })).toBeVisible();
  await expect(page.getByRole("alert")).toContainText("Upstream SSO");
  await expect(page.getByRole("link", { name: "Back to sign in" })).toBeVisible();
});
