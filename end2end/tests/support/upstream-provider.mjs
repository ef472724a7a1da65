// An OpenID provider other people wrote (panva's oidc-provider, OpenID Certified) as
// the provider Gatehouse signs people in THROUGH, for the API and Playwright tests.
//
//   CLIENT_ID=… CLIENT_SECRET=… REDIRECT_URI=… [PORT=…] node upstream-provider.mjs
// (REDIRECT_URI may hold several, separated by spaces)
//
// It listens on a loopback port (PORT, or a free one) and prints `ISSUER=http://127.0.0.1:PORT` once it
// answers. Its own sign-in is the test's to choose: the interaction page signs in the
// account named by `?as=`, or else by the cookie `upstream_as` (what a browser test can
// set before the journey), or else `ada`, at once, and consents to what was asked; an
// account named `mfa-…` signs in with `amr: ["pwd", "mfa"]`. Each account's address is
// `{id}@upstream.test`, said verified unless the id starts with `unverified-`.
//
// TAMPER makes it a provider whose ID tokens must be refused, each in one way, the rest
// of the protocol left as oidc-provider does it:
//   other-key  its JWKS publishes another key under the signing key's id;
//   nonce      the authorization request reaches it with another nonce;
//   expired    ID tokens live one second, and the token endpoint answers after two.
import crypto from "node:crypto";
import http from "node:http";
import Provider from "oidc-provider";

const { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, TAMPER = "", PORT = "0" } = process.env;

const rsaJwk = (kind) => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = (kind === "private" ? privateKey : publicKey).export({ format: "jwk" });
  return { ...jwk, kid: "signing-key", alg: "RS256", use: "sig" };
};
const signingKey = rsaJwk("private");
const impostorKey = rsaJwk("public");
if (!CLIENT_ID || !CLIENT_SECRET || !REDIRECT_URI) {
  console.error("CLIENT_ID, CLIENT_SECRET and REDIRECT_URI are required");
  process.exit(2);
}

const cookieNamed = (req, name) =>
  (req.headers.cookie ?? "")
    .split(";")
    .map((pair) => pair.trim().split("="))
    .find(([key]) => key === name)?.[1];

let provider;
const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  if (TAMPER === "other-key" && url.pathname === "/jwks") {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ keys: [impostorKey] }));
    return;
  }
  if (TAMPER === "nonce" && url.pathname === "/auth" && url.searchParams.has("nonce")) {
    url.searchParams.set("nonce", "a-nonce-of-another-sign-in");
    req.url = url.pathname + url.search;
  }
  if (TAMPER === "expired" && url.pathname === "/token") {
    // The token is made now; its answer leaves once it has expired.
    const end = res.end.bind(res);
    res.end = (...args) => setTimeout(() => end(...args), 2100);
  }
  if (!url.pathname.startsWith("/interaction/")) {
    return provider.callback()(req, res);
  }
  try {
    const details = await provider.interactionDetails(req, res);
    if (details.prompt.name === "login") {
      const account = url.searchParams.get("as") || cookieNamed(req, "upstream_as") || "ada";
      const amr = account.startsWith("mfa-") ? ["pwd", "mfa"] : ["pwd"];
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: account, amr } },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    const grant = new provider.Grant({
      accountId: details.session.accountId,
      clientId: details.params.client_id,
    });
    grant.addOIDCScope(String(details.params.scope));
    const grantId = await grant.save();
    await provider.interactionFinished(
      req,
      res,
      { consent: { grantId } },
      { mergeWithLastSubmission: true },
    );
  } catch (error) {
    res.statusCode = 400;
    res.end(String(error));
  }
});

server.listen(Number(PORT), "127.0.0.1", () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: REDIRECT_URI.split(/\s+/),
        grant_types: ["authorization_code"],
        response_types: ["code"],
      },
    ],
    async findAccount(ctx, id) {
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            email: `${id}@upstream.test`,
            email_verified: !id.startsWith("unverified-"),
            preferred_username: id,
            name: `Upstream ${id}`,
          };
        },
      };
    },
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["preferred_username", "name"],
    },
    // The scopes' claims in the ID token itself, as many providers put them.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ["upstream-test-cookie-key"] },
    jwks: { keys: [signingKey] },
    ttl: { IdToken: TAMPER === "expired" ? 1 : 3600 },
    pkce: { required: () => true },
  });
  console.log(`ISSUER=${issuer}`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => process.exit(0));
}
