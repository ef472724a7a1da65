import { expect, type Page, test } from "@playwright/test";
import { createAdminWithCli, signIn, uniqueName } from "./support/actions";

// The admin console's forward-auth rules editor, with JavaScript on and off: a rule added,
// changed and removed on the page is what the gate answers a reverse proxy with.

const rulesHeading = (page: Page) => page.getByRole("heading", { name: "Forward-auth rules" });

/** What the gate answers a proxy asking about `url` for this browser's session. A page
 * visit first, so that an access cookie past its (short, in tests) lifetime is renewed. */
async function gateAnswer(page: Page, url: string) {
  await page.goto("/admin/forward-auth");
  await expect(rulesHeading(page)).toBeVisible();
  const response = await page.request.get("/auth/forward/auth-request", {
    headers: { "X-Original-URL": url },
    maxRedirects: 0,
  });
  return { status: response.status(), user: response.headers()["remote-user"] };
}

for (const javaScriptEnabled of [true, false]) {
  test(`an admin adds, changes and removes a forward-auth rule on the page (JavaScript ${javaScriptEnabled ? "on" : "off"})`, async ({ browser }) => {
    const context = await browser.newContext({ javaScriptEnabled });
    const page = await context.newPage();
    const adminName = uniqueName("rules");
    createAdminWithCli(adminName);
    await signIn(page, adminName);
    await expect(page).toHaveURL(/\/dashboard$/);

    await page.goto("/admin");
    await page.getByRole("link", { name: "Forward-auth rules" }).click();
    await expect(rulesHeading(page)).toBeVisible();
    const host = `${uniqueName("wiki")}.example.org`;
    const row = page.locator(`tr[data-rule="${host}/reports"]`);
    const appUrl = `https://${host}/reports/q3`;

    // A refused rule comes back with what was typed, the wrong field marked.
    await page.getByLabel("Host").fill("not a host!");
    await page.getByLabel("Path prefix").fill("/reports");
    await page.getByLabel("Users").fill("someone-else");
    await page.getByRole("button", { name: "Add the rule" }).click();
    await expect(page.getByRole("alert")).toHaveText("Some fields are not valid. Check them and try again.");
    await expect(page.getByLabel("Host")).toHaveValue("not a host!");
    await expect(page.getByLabel("Host")).toHaveAttribute("aria-invalid", "true");
    await expect(page.getByLabel("Path prefix")).toHaveAttribute("aria-invalid", "false");
    await expect(page.getByLabel("Users")).toHaveValue("someone-else");

    await page.getByLabel("Host").fill(host);
    await page.getByRole("button", { name: "Add the rule" }).click();
    await expect(row.getByTestId("rule-who")).toHaveText("someone-else");
    await expect(page.getByRole("alert")).toHaveCount(0);
    expect(await gateAnswer(page, appUrl)).toEqual({ status: 403, user: undefined });

    // The same host and path again: refused, the existing rule untouched.
    await page.getByLabel("Host").fill(host);
    await page.getByLabel("Path prefix").fill("/reports/");
    await page.getByRole("button", { name: "Add the rule" }).click();
    await expect(page.getByRole("alert")).toHaveText("A rule for that host and path exists already.");
    await expect(row).toHaveCount(1);

    await page.goto("/admin/forward-auth");
    await row.getByRole("link", { name: `Change: ${host}/reports` }).click();
    await expect(page.getByRole("heading", { name: "Change the rule" })).toBeVisible();
    await expect(page.getByLabel("Host")).toHaveValue(host);
    await page.getByLabel("Every admin").check();
    await page.getByRole("button", { name: "Save the rule" }).click();
    await expect(page.getByRole("heading", { name: "Add a rule" })).toBeVisible();
    await expect(row.getByTestId("rule-who")).toHaveText("every admin, someone-else");
    await page.screenshot({ path: test.info().outputPath("rules-with-a-rule.png"), fullPage: true });
    expect(await gateAnswer(page, appUrl)).toEqual({ status: 200, user: adminName });

    await row.getByRole("button", { name: `Remove: ${host}/reports` }).click();
    await expect(row).toHaveCount(0);
    // No rule covers it any more: the default (deny) applies.
    expect(await gateAnswer(page, appUrl)).toEqual({ status: 403, user: undefined });

    await page.goto("/admin");
    for (const kind of ["forward_rule_added", "forward_rule_changed", "forward_rule_removed"]) {
      await expect(page.getByRole("cell", { name: kind }).first()).toBeVisible();
    }
    await context.close();
  });
}
