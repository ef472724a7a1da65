// A small web app that signs its users in through Gatehouse, as any app would: panva's
// openid-client (OpenID Certified) does the protocol — discovery, PKCE, state, nonce, the
// code exchange, ID-token validation with the JWKS, UserInfo. The Playwright journey
// starts it on a loopback port (printed on its first line) and drives a browser through.
//
//   ISSUER=http://127.0.0.1:3100 CLIENT_ID=… CLIENT_SECRET=… node relying-party.mjs
import { createServer } from "node:http";
import * as client from "openid-client";

const { ISSUER, CLIENT_ID, CLIENT_SECRET } = process.env;
// Gatehouse in the tests is served over plain http on loopback.
const config = await client.discovery(new URL(ISSUER), CLIENT_ID, CLIENT_SECRET, undefined, {
  execute: [client.allowInsecureRequests],
});

/** Requests on their way: state → the PKCE verifier and nonce that go with it. */
const pending = new Map();
/** Who signed in here last (one browser drives this app). */
let signedIn = null;

const escape = (text) => String(text).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (response, status, body) => {
  response.writeHead(status, { "content-type": "text/html; charset=utf-8" });
  response.end(`<!doctype html><html lang="en"><title>Test app</title><body>${body}</body></html>`);
};

const server = createServer(async (request, response) => {
  const here = new URL(request.url, `http://127.0.0.1:${server.address().port}`);
  const redirectUri = `http://127.0.0.1:${server.address().port}/callback`;
  try {
    if (here.pathname === "/favicon.ico") {
      response.writeHead(204);
      return response.end();
    }
    if (here.pathname === "/login") {
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      pending.set(state, { verifier, nonce });
      const to = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: "openid profile email offline_access",
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
        state,
        nonce,
      });
      response.writeHead(302, { location: to.href });
      return response.end();
    }
    if (here.pathname === "/callback") {
      const state = here.searchParams.get("state");
      const checks = pending.get(state);
      if (!checks) return page(response, 400, `<p id="error">unknown state</p>`);
      pending.delete(state);
      if (here.searchParams.has("error")) {
        return page(response, 200, `<p id="error">${escape(here.searchParams.get("error"))}</p>`);
      }
      const tokens = await client.authorizationCodeGrant(config, here, {
        pkceCodeVerifier: checks.verifier,
        expectedState: state,
        expectedNonce: checks.nonce,
      });
      const claims = tokens.claims();
      const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
      signedIn = { claims, userinfo, tokens };
      response.writeHead(302, { location: "/" });
      return response.end();
    }
    if (here.pathname === "/refresh" && signedIn) {
      const renewed = await client.refreshTokenGrant(config, signedIn.tokens.refresh_token);
      const userinfo = await client.fetchUserInfo(config, renewed.access_token, signedIn.claims.sub);
      signedIn = { ...signedIn, userinfo, tokens: { ...signedIn.tokens, ...renewed } };
      return page(response, 200, `<p id="refreshed">Renewed for ${escape(userinfo.preferred_username)}</p><a href="/">Back</a>`);
    }
    if (here.pathname === "/logout" && signedIn) {
      const to = client.buildEndSessionUrl(config, {
        id_token_hint: signedIn.tokens.id_token,
        post_logout_redirect_uri: `http://127.0.0.1:${server.address().port}/signed-out`,
        state: "bye",
      });
      signedIn = null;
      response.writeHead(302, { location: to.href });
      return response.end();
    }
    if (here.pathname === "/signed-out") {
      return page(response, 200, `<p id="who">Signed out (${escape(here.searchParams.get("state"))})</p>`);
    }
    if (here.pathname === "/") {
      if (!signedIn) return page(response, 200, `<p id="who">Nobody is signed in.</p><a href="/login">Sign in</a>`);
      const { claims, userinfo } = signedIn;
      const hasRefresh = Boolean(signedIn.tokens.refresh_token);
      return page(
        response,
        200,
        `<p id="who">Signed in as ${escape(userinfo.preferred_username)}</p>` +
          `<p id="amr">${escape(JSON.stringify(claims.amr))}</p>` +
          `<p id="acr">${escape(claims.acr)}</p>` +
          `<p id="sub">${escape(claims.sub)}</p>` +
          `<p id="offline">${hasRefresh ? "can refresh" : "no refresh token"}</p>`,
      );
    }
    page(response, 404, "<p>not found</p>");
  } catch (error) {
    // Shown on the page, so the test fails with the library's own words.
    page(response, 500, `<p id="error">${escape(error.name)}: ${escape(error.message)} ${escape(error.cause?.error_description ?? "")}</p>`);
  }
});

server.listen(0, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
