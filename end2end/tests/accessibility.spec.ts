import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { createAdminWithCli, registerClientWithCli, signIn, signUp, uniqueName } from "./support/actions";

async function checkAndCapture(page: Page, path: string, name: string) {
  await page.goto(path);
  await page.waitForLoadState("networkidle");
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(serious.map((v) => `${v.id}: ${v.help} (${v.nodes.length})`), `${path}`).toEqual([]);
  await page.screenshot({ path: test.info().outputPath(`${name}.png`), fullPage: true });
}

test("public pages are accessible", async ({ page }) => {
  await checkAndCapture(page, "/", "home");
  await checkAndCapture(page, "/login", "login");
  await checkAndCapture(page, "/signup", "signup");
  await checkAndCapture(page, "/login/email-code", "email-code");
  await checkAndCapture(page, "/login/email-code?sent=1&login=ada&error=invalid_code", "email-code-refused");
  await checkAndCapture(page, "/no-such-page", "not-found");
});

test("signed-in pages are accessible", async ({ page }) => {
  await signUp(page, uniqueName("a11y"));
  await checkAndCapture(page, "/dashboard", "dashboard");
  await checkAndCapture(page, "/sessions", "sessions");
  await checkAndCapture(page, "/account", "account");
  await checkAndCapture(page, "/admin", "forbidden");
});

test("the admin console is accessible", async ({ page }) => {
  const admin = uniqueName("a11y-admin");
  createAdminWithCli(admin);
  await signIn(page, admin);
  await expect(page).toHaveURL(/\/dashboard$/);
  await checkAndCapture(page, "/admin", "admin");
  await checkAndCapture(page, "/admin/forward-auth", "forward-rules");
  await checkAndCapture(page, "/admin/apps", "apps");
  await checkAndCapture(page, "/admin/providers", "providers");
  await checkAndCapture(page, "/admin/providers?id=corp&kind=oidc&name=Corp&issuer=x&api_url=&client_id=c&sign_up=on&again=1&error=invalid_input&field=issuer", "providers-refused");
  await checkAndCapture(page, "/admin/apps?name=x&redirect_uris=http%3A%2F%2Fx&again=1&error=invalid_input&field=redirect_uris", "apps-refused");
  // A refused rule: the page again with the field marked and the alert shown.
  await checkAndCapture(page, "/admin/forward-auth?host=x%20y&path_prefix=%2F&users=&error=invalid_input&field=host", "forward-rules-refused");
});

test("the OpenID Connect consent page and its refusal page are accessible", async ({ page }) => {
  const client = registerClientWithCli("Accessible app", "https://app.example.org/callback");
  await checkAndCapture(page, "/oauth2/authorize?client_id=gc_nobody", "authorize-refused");
  await signUp(page, uniqueName("a11y-consent"));
  const query = `response_type=code&scope=openid%20profile&client_id=${client.client_id}&redirect_uri=${encodeURIComponent("https://app.example.org/callback")}`;
  await checkAndCapture(page, `/oauth2/authorize?${query}`, "consent");
  await expect(page.getByRole("button", { name: "Allow" })).toBeVisible();
});
