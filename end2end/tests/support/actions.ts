// What a user does: sign up, sign in, sign out. Tests read as journeys built from these.
import { execFileSync } from "node:child_process";
import { join, resolve } from "node:path";
import { type Browser, type BrowserContext, expect, type Page } from "@playwright/test";

export const PASSWORD = "correct horse battery staple";

let counter = 0;
/** A username no other test uses. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}`;
}

export async function signUp(page: Page, username: string, password = PASSWORD) {
  await page.goto("/signup");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
}

export async function signIn(page: Page, username: string, password = PASSWORD) {
  await page.goto("/login");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

export async function signOut(page: Page) {
  await page.getByRole("button", { name: /^Sign out/ }).click();
  await expect(page).toHaveURL(/\/login\?signed_out=1$/);
}

/** The same signed-in browser with JavaScript off: a second context holding `page`'s
 * cookies, at the same origin. Close `plain` when done. */
export async function sameSessionWithoutJavaScript(browser: Browser, context: BrowserContext, page: Page) {
  const plain = await browser.newContext({
    baseURL: new URL(page.url()).origin,
    javaScriptEnabled: false,
    storageState: await context.storageState(),
  });
  return { plain, plainPage: await plain.newPage() };
}

/** Creates an admin the way an operator does: the CLI, password on stdin. */
export function createAdminWithCli(username: string, password = PASSWORD) {
  const workspace = resolve(__dirname, "../../..");
  execFileSync(join(workspace, "target/release/gatehouse"), ["admin", "create", "--username", username], {
    input: `${password}\n`,
    env: {
      ...process.env,
      GATEHOUSE_DATA_DIR: process.env.GATEHOUSE_E2E_DATA_DIR,
      GATEHOUSE_ADMIN_PASSWORD: "",
      RUST_LOG: "warn",
    },
  });
}

/** Fails the test on any script error or CSP violation in the page. */
export function watchForScriptErrors(page: Page): string[] {
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  return problems;
}

/** Registers an OpenID Connect client the way an operator does (`gatehouse clients add`);
 * the JSON it prints: `client_id`, `client_secret` (unless `--public`), … */
export function registerClientWithCli(name: string, redirectUri: string, ...extra: string[]): { client_id: string; client_secret?: string } {
  const workspace = resolve(__dirname, "../../..");
  const printed = execFileSync(join(workspace, "target/release/gatehouse"), ["clients", "add", "--name", name, "--redirect-uri", redirectUri, ...extra], {
    env: { ...process.env, GATEHOUSE_DATA_DIR: process.env.GATEHOUSE_E2E_DATA_DIR, RUST_LOG: "warn" },
  });
  return JSON.parse(printed.toString());
}
