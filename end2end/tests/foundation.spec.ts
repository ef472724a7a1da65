import { expect, test } from "@playwright/test";
import { signUp, uniqueName, watchForScriptErrors } from "./support/actions";

test.describe("the foundation", () => {
  test("the start page is rendered on the server", async ({ request }) => {
    const response = await request.get("/");
    expect(response.status()).toBe(200);
    const html = await response.text();
    // Fetched without a browser: the content is in the HTML itself.
    expect(html).toContain("<h1>Gatehouse</h1>");
    expect(html).toContain("A light, self-hosted authentication service");
    // A strict policy: inline scripts run only with this response's nonce, which the
    // hydration script carries.
    const policy = response.headers()["content-security-policy"];
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).not.toContain("unsafe-inline");
    const nonce = policy.match(/'nonce-([^']+)'/)?.[1];
    expect(nonce, "a nonce in the page's script policy").toBeTruthy();
    expect(html).toContain(`nonce="${nonce}"`);
    const second = await request.get("/");
    expect(second.headers()["content-security-policy"]).not.toContain(`'nonce-${nonce}'`);
  });

  test("health answers JSON", async ({ request }) => {
    const response = await request.get("/healthz");
    expect(response.status()).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  test("the quick start opens without JavaScript, and the islands hydrate with no script errors", async ({ browser }) => {
    const plain = await browser.newContext({ javaScriptEnabled: false });
    const plainPage = await plain.newPage();
    await plainPage.goto("/");
    await expect(plainPage.locator("#quick-start")).toBeHidden();
    await plainPage.getByText("The API quick start").click();
    await expect(plainPage.locator("#quick-start")).toContainText("curl -X POST");
    await plain.close();

    const context = await browser.newContext();
    const page = await context.newPage();
    const problems = watchForScriptErrors(page);
    await page.goto("/");
    await signUp(page, uniqueName("hydrate"));
    // The server renders the lifetime it knows ("about 60 s"); only the hydrated
    // countdown island reads the renewal deadline the session keeper shares.
    await expect(page.getByTestId("renews-in")).toHaveText(/^\d+ s$/);
    expect(problems).toEqual([]);
    await context.close();
  });
});
