// Passkey ceremonies in the browser: the one piece of Gatehouse's client that is not
// WASM, because it is a handful of calls to `navigator.credentials`, which the WASM
// bundle would need WebAuthn bindings for. It talks only to Gatehouse's own server
// functions and never sees a token: the server sets the session cookies. The
// challenge's server-side half travels in an HttpOnly cookie, out of this script's reach.
const supported =
  window.PublicKeyCredential &&
  typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function" &&
  typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";

if (supported) document.documentElement.classList.add("passkeys-supported");

async function call(path, fields) {
  const response = await fetch(`/api/${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: new URLSearchParams(fields),
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error(body?.error?.message ?? "Something went wrong. Please try again.");
    error.code = body?.error?.code;
    throw error;
  }
  return body;
}

function report(box, text) {
  const message = box.querySelector("[data-passkey-message]");
  message.textContent = text;
  message.hidden = !text;
}

async function signIn(box) {
  const options = JSON.parse(await call("passkey/sign_in/start", {}));
  const credential = await navigator.credentials.get({
    publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
  });
  await finishSignIn(box, credential);
}

async function finishSignIn(box, credential) {
  const next = await call("passkey/sign_in/finish", {
    credential: JSON.stringify(credential.toJSON()),
    next: box.dataset.next ?? "",
  });
  window.location.assign(next);
}

// Passkey autofill (conditional mediation): where a username field says
// `autocomplete="username webauthn"` and the browser can list passkeys among its
// suggestions, a sign-in request waits there while the field is on the page; picking a
// passkey finishes it as the button would. A page may hold one WebAuthn request at a
// time, so a button's prompt cancels this one first and offers it again if it fails.
// Pages change without a reload, so the field is looked for whenever the page does; each
// field is offered once, so a refusal shown on the page does not start another request.
let autofill = null;
let prompting = false;
const offered = new WeakSet();

async function offerPasskeysInAutofill() {
  if (autofill && !autofill.field.isConnected) cancelAutofill();
  const field = document.querySelector('input[autocomplete~="webauthn"]');
  const box = document
    .querySelector('[data-passkey-action="sign-in"]')
    ?.closest("[data-passkey-box]");
  if (autofill || prompting || !field || !box || offered.has(field)) return;
  offered.add(field);
  const controller = new AbortController();
  const waiting = { field, controller };
  autofill = waiting;
  let credential;
  try {
    if (!(await PublicKeyCredential.isConditionalMediationAvailable?.())) return;
    const options = JSON.parse(await call("passkey/sign_in/start", {}));
    credential = await navigator.credentials.get({
      mediation: "conditional",
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
      signal: controller.signal,
    });
  } catch {
    // Not offered this time (throttled, cancelled, closed): the button and the form
    // beside it still are, so nothing is said until someone picks a passkey.
    return;
  } finally {
    if (autofill === waiting) autofill = null;
  }
  try {
    await finishSignIn(box, credential);
  } catch (error) {
    report(box, error.message);
  }
}

function cancelAutofill() {
  autofill?.controller.abort();
  autofill = null;
}

function offerAutofillAgain() {
  const field = document.querySelector('input[autocomplete~="webauthn"]');
  if (field) offered.delete(field);
  offerPasskeysInAutofill();
}

if (supported) {
  new MutationObserver(offerPasskeysInAutofill).observe(document.documentElement, {
    childList: true,
    subtree: true,
  });
  offerPasskeysInAutofill();
}

async function stepUp(box) {
  const options = JSON.parse(await call("passkey/step_up/start", {}));
  const credential = await navigator.credentials.get({
    publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
  });
  const next = await call("passkey/step_up/finish", {
    credential: JSON.stringify(credential.toJSON()),
    next: box.dataset.next ?? "",
  });
  window.location.assign(next);
}

// "Confirm it is you" with a passkey: then the same page again, where the step that
// asked for it goes on.
async function confirm() {
  const options = JSON.parse(await call("passkey/reauthenticate/start", {}));
  const credential = await navigator.credentials.get({
    publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
  });
  await call("passkey/reauthenticate/finish", { credential: JSON.stringify(credential.toJSON()) });
  window.location.assign(window.location.pathname);
}

async function register(box) {
  const name = box.querySelector("input[name=name]")?.value ?? "";
  const options = JSON.parse(await call("passkey/register/start", {}));
  const credential = await navigator.credentials.create({
    publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey),
  });
  await call("passkey/register/finish", { name, credential: JSON.stringify(credential.toJSON()) });
  window.location.assign("/account/passkeys?added=1");
}

// A new account: the name and address come from the sign-up form beside the button.
async function signUp(box) {
  const form = box.parentElement.querySelector("form");
  const options = JSON.parse(
    await call("passkey/sign_up/start", {
      username: form.elements.username?.value ?? "",
      email: form.elements.email?.value ?? "",
    }),
  );
  const credential = await navigator.credentials.create({
    publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey),
  });
  const next = await call("passkey/sign_up/finish", {
    credential: JSON.stringify(credential.toJSON()),
    next: box.dataset.next ?? "",
  });
  window.location.assign(next);
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest?.("[data-passkey-action]");
  if (!button || !supported) return;
  event.preventDefault();
  const box = button.closest("[data-passkey-box]");
  report(box, "");
  prompting = true;
  cancelAutofill();
  button.disabled = true;
  try {
    const action = { "sign-in": signIn, "step-up": stepUp, register, "sign-up": signUp, confirm }[
      button.dataset.passkeyAction
    ];
    await action(box);
  } catch (error) {
    // The page asks for the password in place, as a plain form does.
    if (error.code === "reauthentication_required") {
      window.location.assign(`${window.location.pathname}?error=reauthentication_required`);
      return;
    }
    report(
      box,
      error.name === "NotAllowedError" ? "The passkey prompt was closed or timed out." : error.message,
    );
    prompting = false;
    offerAutofillAgain();
  } finally {
    button.disabled = false;
    prompting = false;
  }
});
