import { type Page, expect, test } from "@playwright/test";
import { accessTtlSecs } from "./support/settings";
import { createAdminWithCli, signIn, signUp, uniqueName, watchForScriptErrors } from "./support/actions";
import { adminLink, dashboardHeading, userRow } from "./support/finders";

// Links inside the app navigate without a page load (Leptos's islands router): the page's
// JavaScript lives on, and so does the session keeper.

const sharedFacts = (page: Page) => page.evaluate(() => localStorage.getItem("gatehouse.session"));

/** Counts page loads (documents), as opposed to the fetches client-side navigation makes. */
function countPageLoads(page: Page) {
  const loads = { count: 0 };
  page.on("request", (request) => {
    if (request.resourceType() === "document" && request.frame() === page.mainFrame()) loads.count += 1;
  });
  return loads;
}

test("links navigate without a page load; the page's state and the session keeper live on", async ({ page }) => {
  const problems = watchForScriptErrors(page);
  const name = uniqueName("spa");
  await signUp(page, name);
  await expect(dashboardHeading(page)).toBeVisible();
  await page.waitForLoadState("networkidle");
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
  const marker = () => page.evaluate(() => (window as unknown as { marker?: number }).marker);
  // The keeper writes the facts (with a fresh deadline) when it starts: a keeper that
  // restarted would change them.
  const factsBefore = await sharedFacts(page);
  expect(factsBefore).toContain(name);
  const loads = countPageLoads(page);

  const nav = page.getByRole("navigation", { name: "Main" });
  const started = Date.now();
  await nav.getByRole("link", { name: "Devices", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Your devices" })).toBeVisible();
  const clientSide = Date.now() - started;
  await expect(page).toHaveURL(/\/sessions$/);
  await expect(page.getByText("This device")).toBeVisible();
  await nav.getByRole("link", { name: "Account", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Your account" })).toBeVisible();
  await page.goBack();
  await expect(page.getByRole("heading", { name: "Your devices" })).toBeVisible();
  await expect(page).toHaveURL(/\/sessions$/);

  expect(loads.count, "page loads during client-side navigation").toBe(0);
  expect(await marker()).toBe(42);
  expect(await sharedFacts(page)).toBe(factsBefore);

  // The same keeper goes on renewing: the deadline moves, the page is never reloaded.
  await expect
    .poll(async () => (await sharedFacts(page)) !== factsBefore, { timeout: accessTtlSecs * 2 * 1000 })
    .toBe(true);
  expect(await marker()).toBe(42);
  expect(loads.count).toBe(0);

  // For comparison, the same page as a full load.
  const loadStarted = Date.now();
  await page.goto("/sessions");
  await expect(page.getByRole("heading", { name: "Your devices" })).toBeVisible();
  const fullLoad = Date.now() - loadStarted;
  console.log(`navigation to /sessions: client-side ${clientSide} ms, full page load ${fullLoad} ms`);
  expect(await marker()).toBeUndefined();
  expect(problems).toEqual([]);
});

test("signing out without a page load stops the signed-in keeper", async ({ page }) => {
  const problems = watchForScriptErrors(page);
  const name = uniqueName("respawn");
  await signUp(page, name);
  await page.waitForLoadState("networkidle");
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 7));
  await page.getByRole("button", { name: /^Sign out/ }).click();
  await expect(page).toHaveURL(/\/login\?signed_out=1$/);
  // The URL changes as the router swaps the page in; the keeper started for the
  // signed-out page drops the shared facts once it runs, which may be a moment later
  // (a fresh CI clone read them once before it had).
  await expect.poll(() => sharedFacts(page), { timeout: 2_000 }).toBeNull();
  // The sign-out was client-side, so the signed-in keeper's page never unloaded. Left
  // running, its timer would renew with the dead refresh cookie within one access
  // lifetime and send this tab to /login?expired=1.
  let renewals = 0;
  page.on("request", (request) => {
    if (request.url().endsWith("/api/refresh")) renewals += 1;
  });
  await page.waitForTimeout(accessTtlSecs * 1000 + 1500);
  expect(renewals).toBe(0);
  await expect(page).toHaveURL(/\/login\?signed_out=1$/);
  expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(7);
  expect(problems).toEqual([]);
});

// The race a CI run once lost: the renewal timer fired just as the user clicked "Sign
// out", the server ended the session first, and the renewal's refusal sent the tab to
// "your session expired" before the sign-out's own answer arrived.
test("a renewal refused because this tab just signed out does not say the session expired", async ({ page }) => {
  const problems = watchForScriptErrors(page);
  await signUp(page, uniqueName("race"));
  await page.waitForLoadState("networkidle");
  let releaseRenewal = () => {};
  const renewalHeld = new Promise<void>((held) => {
    void page.route("**/api/refresh", (route) => {
      releaseRenewal = () => void route.continue();
      held();
    });
  });
  // The keeper renews a little before the access token's lifetime ends.
  await renewalHeld;
  await page.route("**/api/logout", async (route) => {
    // The server signs out first; the held renewal is then refused, and its refusal
    // reaches the page before the sign-out's answer does.
    const signedOut = await route.fetch({ maxRedirects: 0 });
    const refused = page.waitForResponse("**/api/refresh");
    releaseRenewal();
    expect((await refused).ok()).toBe(false);
    await page.waitForTimeout(500);
    await route.fulfill({ response: signedOut }).catch(() => {});
  });
  await page.getByRole("button", { name: /^Sign out/ }).click();
  await expect(page).toHaveURL(/\/login\?signed_out=1$/);
  await page.waitForLoadState("networkidle");
  await expect(page).toHaveURL(/\/login\?signed_out=1$/);
  await expect.poll(() => sharedFacts(page), { timeout: 2_000 }).toBeNull();
  // The browser logs the refused renewal itself; nothing else may go wrong.
  expect(problems).toEqual(["console error: Failed to load resource: the server responded with a status of 401 (Unauthorized)"]);
});

test("the admin link follows the role this browser knows: a demotion hides it in every tab", async ({ browser }) => {
  const demoted = uniqueName("demoted");
  const other = uniqueName("other-admin");
  createAdminWithCli(demoted);
  createAdminWithCli(other);

  const context = await browser.newContext();
  const first = await context.newPage();
  await signIn(first, demoted);
  await expect(adminLink(first)).toBeVisible();
  const second = await context.newPage();
  await second.goto("/sessions");
  await expect(adminLink(second)).toBeVisible();
  for (const tab of [first, second]) {
    await tab.waitForLoadState("networkidle");
    await tab.evaluate(() => ((window as unknown as { marker: number }).marker = 1));
  }

  const otherContext = await browser.newContext();
  const admin = await otherContext.newPage();
  await signIn(admin, other);
  await expect(dashboardHeading(admin)).toBeVisible();
  await admin.goto(`/admin?search=${demoted}`);
  await userRow(admin, demoted).getByRole("button", { name: `Make user: ${demoted}` }).click();
  await expect(userRow(admin, demoted).getByTestId("user-role")).toHaveText("user");

  // The next renewal (in whichever tab) brings the new role; both tabs hide the link
  // without a page load.
  for (const tab of [first, second]) {
    await expect(adminLink(tab)).toHaveCount(0, { timeout: accessTtlSecs * 2 * 1000 });
    expect(await tab.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(1);
  }
  // And the server agrees whatever a page shows.
  await first.goto("/admin");
  await expect(first.getByRole("heading", { name: /403/ })).toBeVisible();
  await context.close();
  await otherContext.close();
});
