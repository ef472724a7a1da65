// Passkeys end to end in Chromium, with its DevTools virtual authenticator standing in for
// a phone or a laptop's screen lock (CTAP2, internal, resident keys, user verification):
// register one on the account page, sign in with it without typing a username, remove it.
// Passkeys need a host name, not an IP address: these pages are opened at localhost,
// which the server's relying party maps its loopback public URL to.
import { type BrowserContext, expect, type Page, test } from "@playwright/test";
import {
  PASSWORD,
  createAdminWithCli,
  sameSessionWithoutJavaScript,
  signIn,
  signOut,
  signUp,
  uniqueName,
  watchForScriptErrors,
} from "./support/actions";
import { totpCode } from "./support/totp";

/**
 * A platform authenticator with resident keys and user verification, always consenting.
 * Chromium's virtual authenticator answers a passkey autofill request (conditional
 * mediation) at once, as if its one passkey had been picked from the username field's
 * suggestions. Unless a test is about that autofill, the page is told the browser has
 * none, as some browsers do not: the test then reaches the other ways in first.
 */
async function addVirtualAuthenticator(context: BrowserContext, page: Page, { autofill = false } = {}) {
  if (!autofill) {
    await page.addInitScript(() => {
      PublicKeyCredential.isConditionalMediationAvailable = async () => false;
    });
  }
  const devtools = await context.newCDPSession(page);
  await devtools.send("WebAuthn.enable");
  const { authenticatorId } = await devtools.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { devtools, authenticatorId };
}

const port = Number(process.env.E2E_PORT ?? 3100);
test.use({ baseURL: (process.env.BASE_URL ?? `http://127.0.0.1:${port}`).replace("127.0.0.1", "localhost") });

test("a passkey registered on the account page signs in without a username, is renamed, until it is removed", async ({ page, context, browser }) => {
  const problems = watchForScriptErrors(page);
  const { devtools, authenticatorId } = await addVirtualAuthenticator(context, page);

  const username = uniqueName("passkey");
  await signUp(page, username);
  await page.goto("/account");
  await page.getByRole("link", { name: "Manage your passkeys" }).click();
  await expect(page).toHaveURL(/\/account\/passkeys$/);
  await expect(page.locator("#passkey-list")).toHaveText("No passkeys yet.");
  await page.getByLabel("Name (to tell it apart later)").fill("Test laptop");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page).toHaveURL(/\/account\/passkeys\?added=1$/);
  await expect(page.locator(".passkey-name")).toHaveText(["Test laptop"]);
  await expect(page.locator("#passkey-list")).toContainText("last used never");
  const { credentials } = await devtools.send("WebAuthn.getCredentials", { authenticatorId });
  expect(credentials).toHaveLength(1);
  expect(credentials[0].isResidentCredential).toBe(true);

  // Signed out, the passkey alone signs in — no username — and goes on to `next`.
  await signOut(page);
  await page.goto("/login?next=%2Fsessions");
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page).toHaveURL(/\/sessions$/);
  await expect(page.getByRole("button", { name: new RegExp(`Sign out ${username}`) })).toBeVisible();
  await page.goto("/account/passkeys");
  await expect(page.locator("#passkey-list")).not.toContainText("last used never");
  expect(problems).toEqual([]);

  // Renamed with JavaScript, then by the same form in a browser without it.
  await page.getByLabel("New name for Test laptop").fill("  Work laptop ");
  await page.getByRole("button", { name: "Rename" }).click();
  await expect(page).toHaveURL(/\/account\/passkeys\?renamed=1$/);
  await expect(page.locator(".passkey-name")).toHaveText(["Work laptop"]);
  const { plain, plainPage } = await sameSessionWithoutJavaScript(browser, context, page);
  await plainPage.goto("/account/passkeys");
  await plainPage.getByLabel("New name for Work laptop").fill("Old laptop");
  await plainPage.getByRole("button", { name: "Rename" }).click();
  await expect(plainPage).toHaveURL(/\/account\/passkeys\?renamed=1$/);
  await expect(plainPage.getByRole("status")).toHaveText("The passkey has its new name.");
  await expect(plainPage.locator(".passkey-name")).toHaveText(["Old laptop"]);
  await plain.close();
  await page.reload();
  await expect(page.locator(".passkey-name")).toHaveText(["Old laptop"]);

  // Removing it needs the password; afterwards the same authenticator is refused.
  await page.getByLabel("Your password, to remove Old laptop").fill(PASSWORD);
  await page.getByRole("button", { name: "Remove" }).click();
  await expect(page).toHaveURL(/\/account\/passkeys\?removed=1$/);
  await expect(page.locator("#passkey-list")).toHaveText("No passkeys yet.");
  await signOut(page);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.locator("[data-passkey-message]")).toHaveText("The passkey was not accepted.");
  await expect(page).toHaveURL(/\/login/);
});

test("an account made with a passkey alone signs in with it, keeps its last passkey, and sets a password later", async ({ page, context, browser }) => {
  const problems = watchForScriptErrors(page);
  const { devtools, authenticatorId } = await addVirtualAuthenticator(context, page);
  const username = uniqueName("nopass");

  // A name the server refuses is told in place, before any prompt.
  await page.goto("/signup");
  await page.getByLabel("Username").fill("no spaces allowed");
  await page.getByRole("button", { name: "Create an account with a passkey" }).click();
  await expect(page.locator("[data-passkey-message]")).toContainText("username");
  expect((await devtools.send("WebAuthn.getCredentials", { authenticatorId })).credentials).toHaveLength(0);

  await page.getByLabel("Username").fill(username);
  await page.getByRole("button", { name: "Create an account with a passkey" }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByRole("heading", { name: "Set a password" })).toBeVisible();
  await expect(page.getByLabel("Current password")).toHaveCount(0);
  const { credentials } = await devtools.send("WebAuthn.getCredentials", { authenticatorId });
  expect(credentials).toHaveLength(1);
  expect(credentials[0].isResidentCredential).toBe(true);

  // The only passkey of an account with no password and no address stays.
  await page.goto("/account/passkeys");
  await expect(page.locator(".passkey-name")).toHaveText(["Passkey"]);
  await page.getByRole("button", { name: "Remove Passkey" }).click();
  await expect(page.getByRole("alert")).toContainText("last way to sign in");
  await expect(page.locator(".passkey-name")).toHaveText(["Passkey"]);

  // Signed out, the passkey signs the account in; no password does.
  await signOut(page);
  await signIn(page, username, PASSWORD);
  await expect(page.getByRole("alert")).toContainText("Wrong username or password");
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
  // The browser logs the two refusals this test asked for (the name, the password).
  expect(problems).toEqual([
    expect.stringContaining("status of 422"),
    expect.stringContaining("status of 401"),
  ]);

  // Fresh from that sign-in, a first password — here by the plain form, without JavaScript.
  const { plain, plainPage } = await sameSessionWithoutJavaScript(browser, context, page);
  await plainPage.goto("/account");
  await plainPage.getByLabel("New password").fill("a first passphrase here");
  await plainPage.getByRole("button", { name: "Set password" }).click();
  await expect(plainPage.getByRole("status")).toHaveText("Your password has been set.");
  await expect(plainPage.getByRole("heading", { name: "Change your password" })).toBeVisible();
  await plain.close();

  await page.goto("/account");
  await expect(page.getByRole("heading", { name: "Change your password" })).toBeVisible();
  await signOut(page);
  await signIn(page, username, "a first passphrase here");
  await expect(page).toHaveURL(/\/dashboard$/);
});

test("the username field offers the passkey as autofill, which signs in and goes on", async ({ page, context }) => {
  const problems = watchForScriptErrors(page);
  const { devtools, authenticatorId } = await addVirtualAuthenticator(context, page, { autofill: true });
  const username = uniqueName("autofill");
  await signUp(page, username);
  // Before there is a passkey to pick: the field asks the browser for passkeys.
  await page.goto("/login");
  await expect(page.getByLabel("Username")).toHaveAttribute("autocomplete", "username webauthn");
  await page.goto("/account/passkeys");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page.locator(".passkey-name")).toHaveText(["Passkey"]);

  // Signed out, the sign-in page asks the browser for passkeys in the username field's
  // suggestions; the virtual authenticator picks its one at once.
  await page.getByRole("button", { name: /^Sign out/ }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
  await expect(page.getByRole("button", { name: new RegExp(`Sign out ${username}`) })).toBeVisible();
  expect(await page.evaluate(() => PublicKeyCredential.isConditionalMediationAvailable())).toBe(true);

  // Reached through the menu (where pages change without a reload), and with `next`.
  await context.clearCookies();
  await page.goto("/signup");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
  await context.clearCookies();
  await page.goto("/login?next=%2Fsessions");
  await expect(page).toHaveURL(/\/sessions$/);
  expect(problems).toEqual([]);

  // Once the passkey is removed, the autofill's answer is refused in place, once: the
  // password form beside it still signs in.
  await page.goto("/account/passkeys");
  await page.getByLabel("Your password, to remove Passkey").fill(PASSWORD);
  await page.getByRole("button", { name: "Remove" }).click();
  await expect(page.locator("#passkey-list")).toHaveText("No passkeys yet.");
  expect((await devtools.send("WebAuthn.getCredentials", { authenticatorId })).credentials).toHaveLength(1);
  const starts: string[] = [];
  page.on("request", (request) => {
    if (request.url().endsWith("/api/passkey/sign_in/start")) starts.push(request.url());
  });
  await page.getByRole("button", { name: /^Sign out/ }).click();
  await expect(page).toHaveURL(/\/login\?signed_out=1$/);
  await expect(page.locator("[data-passkey-message]")).toHaveText("The passkey was not accepted.");
  await page.waitForTimeout(1000);
  expect(starts).toHaveLength(1);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
});

test("the owner turns password sign-in off on the account page; the password is then refused, the passkey signs in", async ({ page, context, browser }) => {
  await addVirtualAuthenticator(context, page);
  const username = uniqueName("ways");
  await signUp(page, username);
  await page.goto("/account");
  const ways = page.locator("#ways-form");
  await expect(ways.getByLabel("Password", { exact: true })).toBeChecked();
  await expect(ways.getByLabel("Passkey (none added yet)")).toBeChecked();
  await expect(ways.getByLabel("Code by email (needs a verified address)")).toBeChecked();

  // The password is the only way this account can use yet: it stays on, said in place.
  await ways.getByLabel("Password", { exact: true }).uncheck();
  await ways.getByLabel("Your password, to save").fill(PASSWORD);
  await ways.getByRole("button", { name: "Save ways to sign in" }).click();
  await expect(page).toHaveURL(/\/account\?section=ways&error=last_factor/);
  await expect(page.getByRole("alert")).toContainText("last way to sign in");
  // The form keeps what was asked (as after any refused form); the account did not change.
  await page.goto("/account");
  await expect(page.locator("#ways-form").getByLabel("Password", { exact: true })).toBeChecked();

  await page.goto("/account/passkeys");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page.locator(".passkey-name")).toHaveText(["Passkey"]);

  // With JavaScript off, the same plain form turns the password off.
  const { plain, plainPage } = await sameSessionWithoutJavaScript(browser, context, page);
  await plainPage.goto("/account");
  const plainWays = plainPage.locator("#ways-form");
  await expect(plainWays.getByLabel("Passkey", { exact: true })).toBeChecked();
  await plainWays.getByLabel("Password", { exact: true }).uncheck();
  await plainWays.getByLabel("Your password, to save").fill(PASSWORD);
  await plainWays.getByRole("button", { name: "Save ways to sign in" }).click();
  await expect(plainPage).toHaveURL(/\/account\?ways=saved/);
  await expect(plainPage.getByRole("status").first()).toContainText("no longer signs in");
  await expect(plainPage.locator("#ways-form").getByLabel("Password", { exact: true })).not.toBeChecked();
  await plain.close();

  await page.goto("/account");
  await signOut(page);
  await signIn(page, username, PASSWORD);
  await expect(page.getByRole("alert")).toContainText("turned that off");
  await expect(page).toHaveURL(/\/login/);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
});

test("on an account with an authenticator app, a passkey can stand in for the code", async ({ page, context }) => {
  const problems = watchForScriptErrors(page);
  await addVirtualAuthenticator(context, page);
  const username = uniqueName("stepup");
  await signUp(page, username);
  await page.goto("/account/passkeys");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page.locator(".passkey-name")).toHaveText(["Passkey"]);
  await page.goto("/account/two-step");
  await page.getByRole("button", { name: "Set up an authenticator app" }).click();
  const secret = (await page.locator("#totp-secret").textContent())!.trim();
  await page.getByLabel("Six-digit code").fill(totpCode(secret));
  await page.getByRole("button", { name: "Turn on two-step sign-in" }).click();
  await expect(page).toHaveURL(/\/account\?two_step=on$/);
  await signOut(page);

  await signIn(page, username);
  await expect(page).toHaveURL(/\/login\/code/);
  await page.getByRole("button", { name: "Use a passkey instead" }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
  expect(problems).toEqual([]);
});

test("a disabled account's passkey is refused, and the refusal is audited", async ({ page, context, request }) => {
  await addVirtualAuthenticator(context, page);
  const username = uniqueName("disabled");
  await signUp(page, username);
  await page.goto("/account/passkeys");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page.locator(".passkey-name")).toHaveText(["Passkey"]);
  await signOut(page);

  const root = uniqueName("root");
  createAdminWithCli(root);
  const login = await request.post("/auth/login", { data: { username: root, password: PASSWORD } });
  const admin = { Authorization: `Bearer ${(await login.json()).access_token}` };
  const found = await (await request.get(`/auth/admin/users?search=${username}`, { headers: admin })).json();
  const disabled = await request.patch(`/auth/admin/users/${found.items[0].id}`, { headers: admin, data: { disabled: true } });
  expect(disabled.status()).toBe(200);

  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.locator("[data-passkey-message]")).toHaveText("This account is disabled.");
  await expect(page).toHaveURL(/\/login/);
  const audit = await (await request.get("/auth/admin/audit?kind=login_refused_disabled&per_page=100", { headers: admin })).json();
  const refusals = audit.items.filter((event: { username: string }) => event.username === username);
  expect(refusals).toHaveLength(1);
});

test("a passkey removed while its step-up ceremony is open does not complete the sign-in", async ({ page, context, request }) => {
  await addVirtualAuthenticator(context, page);
  const username = uniqueName("midway");
  await signUp(page, username);
  await page.goto("/account/passkeys");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page.locator(".passkey-name")).toHaveText(["Passkey"]);
  await page.goto("/account/two-step");
  await page.getByRole("button", { name: "Set up an authenticator app" }).click();
  const secret = (await page.locator("#totp-secret").textContent())!.trim();
  const recoveryCode = (await page.locator("#recovery-codes li").first().textContent())!.trim();
  await page.getByLabel("Six-digit code").fill(totpCode(secret));
  await page.getByRole("button", { name: "Turn on two-step sign-in" }).click();
  await expect(page).toHaveURL(/\/account\?two_step=on$/);
  await signOut(page);

  await signIn(page, username);
  await expect(page).toHaveURL(/\/login\/code/);
  // Between the browser's answer and the server's check, the owner (signed in
  // elsewhere with a recovery code) removes the passkey.
  await page.route("**/api/passkey/step_up/finish", async (route) => {
    const login = await request.post("/auth/login", { data: { username, password: PASSWORD } });
    const { ticket } = await login.json();
    const second = await request.post("/auth/login/second-factor", { data: { ticket, code: recoveryCode } });
    const bearer = { Authorization: `Bearer ${(await second.json()).access_token}` };
    const { passkeys } = await (await request.get("/auth/passkeys", { headers: bearer })).json();
    const removed = await request.post(`/auth/passkeys/${passkeys[0].id}/remove`, {
      headers: bearer,
      data: { current_password: PASSWORD },
    });
    expect(removed.status()).toBe(200);
    await route.continue();
  });
  await page.getByRole("button", { name: "Use a passkey instead" }).click();
  await expect(page.locator("[data-passkey-message]")).toHaveText("The passkey was not accepted.");
  await expect(page).toHaveURL(/\/login\/code/);
});

test("adding a passkey after a sign-in long ago asks for the password in place, then goes on", async ({ page, context }) => {
  const problems = watchForScriptErrors(page);
  await addVirtualAuthenticator(context, page);
  await signUp(page, uniqueName("confirm"));
  // How the page looks once the server answered `reauthentication_required` (the API
  // tests make a sign-in old by moving the server's clock; this one cannot wait).
  await page.goto("/account/passkeys?error=reauthentication_required");
  const prompt = page.locator("#reauthenticate");
  await expect(prompt.getByRole("heading", { name: "Confirm it is you" })).toBeVisible();
  await prompt.getByLabel("Your password").fill("not the password");
  await prompt.getByRole("button", { name: "Confirm" }).click();
  await expect(page).toHaveURL(/\/account\/passkeys\?confirm=1&error=invalid_input$/);
  await expect(prompt.getByText("The password is not correct.")).toBeVisible();
  await prompt.getByLabel("Your password").fill(PASSWORD);
  await prompt.getByRole("button", { name: "Confirm" }).click();
  await expect(page).toHaveURL(/\/account\/passkeys$/);
  await expect(prompt).toHaveCount(0);
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page).toHaveURL(/\/account\/passkeys\?added=1$/);
  expect(problems).toEqual([]);
});

test("an account without a password confirms it is you with its passkey, then goes on", async ({ page, context }) => {
  const problems = watchForScriptErrors(page);
  const { devtools, authenticatorId } = await addVirtualAuthenticator(context, page);
  await page.goto("/signup");
  await page.getByLabel("Username").fill(uniqueName("confirm-key"));
  await page.getByRole("button", { name: "Create an account with a passkey" }).click();
  await expect(page).toHaveURL(/\/account$/);

  // How the page looks once the server answered `reauthentication_required` (as above).
  await page.goto("/account/passkeys?error=reauthentication_required");
  const prompt = page.locator("#reauthenticate");
  await expect(prompt.getByRole("heading", { name: "Confirm it is you" })).toBeVisible();
  await expect(prompt).toContainText("needs one of your passkeys");
  await expect(prompt.getByLabel("Your password")).toHaveCount(0);
  const confirmed = page.waitForResponse((response) => response.url().endsWith("/api/passkey/reauthenticate/finish"));
  await prompt.getByRole("button", { name: "Confirm with a passkey" }).click();
  expect((await confirmed).status()).toBe(200);
  await expect(page).toHaveURL(/\/account\/passkeys$/);
  await expect(prompt).toHaveCount(0);
  // The assertion was the passkey this authenticator holds: its use is counted.
  const { credentials } = await devtools.send("WebAuthn.getCredentials", { authenticatorId });
  expect(credentials[0].signCount).toBeGreaterThan(0);
  expect(problems).toEqual([]);
});

test.describe("JavaScript off", () => {
  test.use({ javaScriptEnabled: false });

  test("the passkey buttons stay hidden and the pages still work", async ({ page }) => {
    await page.goto("/login");
    await expect(page.getByRole("button", { name: "Sign in with a passkey" })).toBeHidden();
    await expect(page.getByRole("button", { name: "Sign in", exact: true })).toBeVisible();
    await page.goto("/account/passkeys");
    await expect(page).toHaveURL(/\/login\?next=/);
  });
});
