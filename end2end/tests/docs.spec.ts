import { expect, test } from "@playwright/test";

test("Swagger UI renders the API from our own assets, with no script errors", async ({ page }) => {
  const problems: string[] = [];
  const foreign: string[] = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (!["127.0.0.1", "localhost"].includes(url.hostname) && url.protocol !== "data:") {
      foreign.push(request.url());
    }
  });

  await page.goto("/docs/");
  await expect(page.locator(".swagger-ui .title")).toContainText("Gatehouse");
  await expect(page.locator('.opblock-summary-path[data-path="/auth/login"]')).toBeVisible();
  await expect(page.locator('.opblock-summary-path[data-path="/auth/login/second-factor"]')).toBeVisible();
  await expect(page.locator('.opblock-summary-path[data-path="/market/api/refresh"]')).toBeVisible();
  expect(problems).toEqual([]);
  expect(foreign, "nothing is loaded from outside").toEqual([]);
});
