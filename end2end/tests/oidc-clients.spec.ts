import { expect, type Page, test } from "@playwright/test";
import { createAdminWithCli, signIn, uniqueName } from "./support/actions";

// The admin console's apps page, with JavaScript on and off: an app registered, refused
// with what was typed kept, its secret shown once (never in a URL), disabled, given a
// new secret and removed; the signing keys rotated.

const appsHeading = (page: Page) => page.getByRole("heading", { name: "Apps signing in through Gatehouse" });

async function publishedKids(page: Page): Promise<string[]> {
  const jwks = await (await page.request.get("/.well-known/jwks.json")).json();
  return jwks.keys.map((key: { kid: string }) => key.kid);
}

for (const javaScriptEnabled of [true, false]) {
  test(`an admin registers, disables, re-keys and removes an app on the page (JavaScript ${javaScriptEnabled ? "on" : "off"})`, async ({ browser }) => {
    const context = await browser.newContext({ javaScriptEnabled });
    const page = await context.newPage();
    const adminName = uniqueName("apps");
    createAdminWithCli(adminName);
    await signIn(page, adminName);
    await expect(page).toHaveURL(/\/dashboard$/);

    await page.goto("/admin");
    await page.getByRole("link", { name: "Apps", exact: true }).click();
    await expect(appsHeading(page)).toBeVisible();
    const name = uniqueName("Wiki");
    const row = page.locator(`tr[data-app="${name}"]`);

    // Refused: plain http to another host. What was typed comes back, the field marked.
    await page.getByLabel("Name").fill(name);
    await page.getByLabel("Redirect URIs").fill("http://wiki.example.org/callback");
    await page.getByLabel("ID tokens signed with").selectOption("ES256");
    await page.getByRole("button", { name: "Register the app" }).click();
    await expect(page.getByRole("alert")).toHaveText("Some fields are not valid. Check them and try again.");
    await expect(page.getByLabel("Name")).toHaveValue(name);
    await expect(page.getByLabel("Redirect URIs")).toHaveValue("http://wiki.example.org/callback");
    await expect(page.getByLabel("Redirect URIs")).toHaveAttribute("aria-invalid", "true");
    await expect(page.getByLabel("ID tokens signed with")).toHaveValue("ES256");
    await expect(row).toHaveCount(0);

    await page.getByLabel("Redirect URIs").fill("https://wiki.example.org/callback");
    await page.getByRole("button", { name: "Register the app" }).click();
    await expect(row).toHaveCount(1);
    await expect(row.getByRole("cell", { name: "ES256" })).toBeVisible();
    const secret = page.getByTestId("client-secret");
    await expect(secret).toHaveText(/^gcs_/);
    const firstSecret = await secret.textContent();
    expect(page.url()).not.toContain(firstSecret ?? "none");
    // Shown once: not again on the next visit.
    await page.reload();
    await expect(row).toHaveCount(1);
    await expect(page.getByTestId("client-secret")).toHaveCount(0);

    await row.getByRole("button", { name: `Disable: ${name}` }).click();
    await expect(row.getByTestId("app-state")).toHaveText("disabled");
    await row.getByRole("button", { name: `Enable: ${name}` }).click();
    await expect(row.getByTestId("app-state")).toHaveText("enabled");

    await row.getByRole("button", { name: `New secret: ${name}` }).click();
    await expect(page.getByTestId("client-secret")).toHaveText(/^gcs_/);
    expect(await page.getByTestId("client-secret").textContent()).not.toEqual(firstSecret);

    const before = await publishedKids(page);
    await page.getByRole("button", { name: "Rotate the signing keys" }).click();
    await expect(appsHeading(page)).toBeVisible();
    await expect.poll(async () => (await publishedKids(page)).length).toBe(before.length + 4);
    await page.screenshot({ path: test.info().outputPath("apps-with-an-app.png"), fullPage: true });

    await row.getByRole("button", { name: `Remove: ${name}` }).click();
    await expect(row).toHaveCount(0);

    await page.goto("/admin");
    for (const kind of ["oidc_client_registered", "oidc_client_disabled", "oidc_client_secret_rotated", "signing_keys_rotated", "oidc_client_removed"]) {
      await expect(page.getByRole("cell", { name: kind }).first()).toBeVisible();
    }
    await context.close();
  });
}
