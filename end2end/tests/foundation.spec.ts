import { expect, test } from "@playwright/test";

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

  test("the page hydrates and its button works, with no script errors", async ({ page }) => {
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console error: ${message.text()}`);
    });

    await page.goto("/");
    const toggle = page.getByRole("button", { name: "Show the API quick start" });
    // Disabled in the server's HTML; only the hydrated WASM client enables it.
    await expect(toggle).toBeEnabled();
    await toggle.click();
    await expect(page.locator("#quick-start")).toContainText("curl -X POST");
    await expect(page.getByRole("button", { name: "Hide the API quick start" })).toHaveAttribute(
      "aria-expanded",
      "true",
    );
    expect(problems).toEqual([]);
  });
});
