// Visual baselines: every page as a new user sees it at 1280×800, with JavaScript on and
// off, in light and dark, signed out, as a user and as an admin. A layout change fails
// here until its baseline is updated on purpose:
//   cd end2end && npx playwright test visual --update-snapshots
// Values that differ from run to run (times, other tests' users, token countdowns) are
// masked; everything else must match.
import { expect, test, type Browser, type BrowserContext, type Page } from "@playwright/test";
import { PASSWORD, createAdminWithCli, registerClientWithCli } from "./support/actions";

type Viewer = "signed-out" | "user" | "admin";

// Fixed names, so the header reads the same on every run (the e2e store is new each run).
const USER = "vera";
const ADMIN = "vadmin";

// The consent page needs a client registered in this run: its id is random, so the
// picture is named after this stand-in and the page visited with the real request.
const CONSENT = "/oauth2/authorize?consent";
let consentRequest = "";

const pages: Record<Viewer, string[]> = {
  "signed-out": ["/", "/login", "/signup", "/forgot-password", "/reset-password", "/verify-email", "/login/code", "/login/email-code", "/oauth2/authorize", "/no-such-page"],
  user: ["/", "/logout", "/dashboard", "/sessions", "/account", "/account/two-step", "/account/passkeys", CONSENT],
  // Searched for itself: the users table then has one row however many users other
  // tests made.
  admin: ["/dashboard", `/admin?search=${ADMIN}`, "/admin/forward-auth", "/admin/providers"],
};

/** What changes between runs on its own: never part of a baseline. */
const volatile = (page: Page) => [
  page.getByTestId("renews-in"),
  page.locator("table"),
  page.locator("time"),
  page.locator(".pager"),
];

test.describe.configure({ mode: "serial" });

test.beforeAll(async ({ request }) => {
  const signedUp = await request.post("/auth/signup", { data: { username: USER, password: PASSWORD } });
  expect(signedUp.status()).toBe(201);
  createAdminWithCli(ADMIN);
  const client = registerClientWithCli("Wiki", "https://wiki.example.org/callback");
  consentRequest = `/oauth2/authorize?response_type=code&scope=openid%20profile%20email&client_id=${client.client_id}&redirect_uri=${encodeURIComponent("https://wiki.example.org/callback")}`;
  // More failed sign-ins than an audit page holds, with names of one length: the admin
  // page's newest 25 events are then the same rows, of the same height, on every run.
  for (let n = 0; n < 26; n++) {
    const refused = await request.post("/auth/login", { data: { username: `nobody-${String(n).padStart(2, "0")}`, password: PASSWORD } });
    expect(refused.status()).toBe(401);
  }
});

async function signedIn(browser: Browser, viewer: Viewer, javaScriptEnabled: boolean, colorScheme: "light" | "dark"): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, javaScriptEnabled, colorScheme });
  if (viewer === "signed-out") return context;
  // A plain form post works with JavaScript off too; each context has a session of its own.
  const page = await context.newPage();
  await page.goto("/login");
  await page.getByLabel("Username").fill(viewer === "admin" ? ADMIN : USER);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
  await page.close();
  return context;
}

for (const viewer of ["signed-out", "user", "admin"] as const) {
  for (const javaScriptEnabled of [true, false]) {
    for (const colorScheme of ["light", "dark"] as const) {
      const variant = `${viewer}-${javaScriptEnabled ? "js" : "nojs"}-${colorScheme}`;
      test(`pages keep their layout: ${variant}`, async ({ browser }) => {
        const context = await signedIn(browser, viewer, javaScriptEnabled, colorScheme);
        const page = await context.newPage();
        for (const path of pages[viewer]) {
          await page.goto(path === CONSENT ? consentRequest : path);
          // Islands hydrate and /passkeys.js runs before the picture is taken.
          if (javaScriptEnabled) await page.waitForLoadState("networkidle");
          const name = `${variant}${path === "/" ? "-home" : path.replace(/[^a-z0-9]+/g, "-")}.png`;
          await expect(page, `${path} (${variant})`).toHaveScreenshot(name, {
            fullPage: true,
            animations: "disabled",
            caret: "hide",
            mask: volatile(page),
          });
        }
        // Signed out again, so that the next variant's devices page lists one session.
        if (viewer !== "signed-out") {
          await page.getByRole("button", { name: /^Sign out/ }).click();
          await expect(page).toHaveURL(/\/login\?signed_out=1$/);
        }
        await context.close();
      });
    }
  }
}

// The bug that started these baselines: once /passkeys.js marked the page, a rule meant
// for the passkey list laid every form out in a row.
for (const javaScriptEnabled of [true, false]) {
  test(`sign-in forms keep full-width fields and the button below them (JavaScript ${javaScriptEnabled ? "on" : "off"})`, async ({ browser }) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, javaScriptEnabled });
    const page = await context.newPage();
    for (const [path, button] of [["/login", "Sign in"], ["/signup", "Create account"]]) {
      await page.goto(path);
      if (javaScriptEnabled) await page.waitForLoadState("networkidle");
      const theForm = page.locator("main form").first();
      const form = await theForm.boundingBox();
      const submit = await theForm.getByRole("button", { name: button, exact: true }).boundingBox();
      const fields = await theForm.locator("input:not([type=hidden])").all();
      expect(form && submit && fields.length > 0).toBeTruthy();
      for (const field of fields) {
        const box = await field.boundingBox();
        expect(box!.width, `${path}: a field as wide as its form`).toBeGreaterThan(form!.width * 0.9);
        expect(submit!.y, `${path}: the button below every field`).toBeGreaterThan(box!.y + box!.height);
      }
    }
    await context.close();
  });
}
