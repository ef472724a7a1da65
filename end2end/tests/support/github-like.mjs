// A local server that speaks GitHub's documented OAuth 2.0 web flow and user API, for
// the GitHub preset's tests: github.com cannot be reached from the test machines.
//
//   CLIENT_ID=… CLIENT_SECRET=… REDIRECT_URI=… node github-like.mjs
//
// It listens on a free loopback port and prints `ISSUER=http://127.0.0.1:PORT` (the
// preset's `issuer`; its API is under `/api/v3`, as on a GitHub Enterprise Server).
// Documented behaviour it keeps, because Gatehouse must cope with it:
//   GET  /login/oauth/authorize      signs in whoever `?as=` names (default `octocat`) at
//                                    once and redirects to redirect_uri with code and state;
//   POST /login/oauth/access_token   form-encoded client_id, client_secret, code,
//                                    redirect_uri, code_verifier (S256); answers JSON only
//                                    when asked (`Accept: application/json`), and a refused
//                                    code with 200 and `{"error": "bad_verification_code"}`;
//                                    a code works once and for ten minutes;
//   GET  /api/v3/user                `{id, login, name, email}` for the bearer token; a
//                                    request without a User-Agent is refused (403);
//   GET  /api/v3/user/emails         the addresses, one primary; needs the `user:email`
//                                    scope (else 404).
// Each person's id is a number derived from their login; an account named `unverified-…`
// has an unverified primary address, one named `private-…` no public address.
import crypto from "node:crypto";
import http from "node:http";

const { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI } = process.env;
if (!CLIENT_ID || !CLIENT_SECRET || !REDIRECT_URI) {
  console.error("CLIENT_ID, CLIENT_SECRET and REDIRECT_URI are needed");
  process.exit(2);
}

const codes = new Map();
const tokens = new Map();

const idOf = (login) => crypto.createHash("sha256").update(login).digest().readUInt32BE(0);
const json = (res, status, body) => {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(body));
};
const readBody = (req) =>
  new Promise((resolve) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => resolve(body));
  });

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  if (req.method === "GET" && url.pathname === "/login/oauth/authorize") {
    const params = url.searchParams;
    if (params.get("client_id") !== CLIENT_ID || params.get("redirect_uri") !== REDIRECT_URI) {
      res.writeHead(400);
      res.end("The redirect_uri MUST match the registered callback URL for this application.");
      return;
    }
    const back = new URL(REDIRECT_URI);
    back.searchParams.set("state", params.get("state") ?? "");
    if (params.get("as") === "refuse") {
      back.searchParams.set("error", "access_denied");
      back.searchParams.set("error_description", "The user has denied your application access.");
    } else {
      const code = crypto.randomBytes(10).toString("hex");
      codes.set(code, {
        login: params.get("as") ?? "octocat",
        scope: params.get("scope") ?? "",
        challenge: params.get("code_challenge"),
        method: params.get("code_challenge_method"),
        expires: Date.now() + 600_000,
      });
      back.searchParams.set("code", code);
    }
    res.writeHead(302, { location: back.toString() });
    res.end();
    return;
  }
  if (req.method === "POST" && url.pathname === "/login/oauth/access_token") {
    const form = new URLSearchParams(await readBody(req));
    // Client authentication by HTTP Basic or by the form, as GitHub accepts both.
    let [id, secret] = [form.get("client_id"), form.get("client_secret")];
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? "");
    if (basic) {
      [id, secret] = Buffer.from(basic[1], "base64").toString().split(":").map(decodeURIComponent);
    }
    const wantsJson = (req.headers.accept ?? "").includes("application/json");
    const answer = (body) => {
      if (wantsJson) return json(res, 200, body);
      res.writeHead(200, { "content-type": "application/x-www-form-urlencoded" });
      res.end(new URLSearchParams(body).toString());
    };
    if (id !== CLIENT_ID || secret !== CLIENT_SECRET) {
      return answer({ error: "incorrect_client_credentials" });
    }
    const code = codes.get(form.get("code") ?? "");
    codes.delete(form.get("code") ?? "");
    if (!code || code.expires < Date.now() || form.get("redirect_uri") !== REDIRECT_URI) {
      return answer({ error: "bad_verification_code" });
    }
    if (code.challenge) {
      const verifier = form.get("code_verifier") ?? "";
      const computed = crypto.createHash("sha256").update(verifier).digest("base64url");
      if (code.method !== "S256" || computed !== code.challenge) {
        return answer({ error: "bad_verification_code" });
      }
    }
    const token = `gho_${crypto.randomBytes(16).toString("hex")}`;
    tokens.set(token, code);
    return answer({ access_token: token, token_type: "bearer", scope: code.scope.replace(/ /g, ",") });
  }
  if (req.method === "GET" && url.pathname.startsWith("/api/v3/")) {
    if (!req.headers["user-agent"]) {
      return json(res, 403, { message: "Request forbidden by administrative rules. Please make sure your request has a User-Agent header" });
    }
    const bearer = /^(Bearer|token) (.+)$/i.exec(req.headers.authorization ?? "");
    const grant = bearer && tokens.get(bearer[2]);
    if (!grant) return json(res, 401, { message: "Bad credentials" });
    const login = grant.login;
    const address = `${login}@users.github-like.test`;
    if (url.pathname === "/api/v3/user") {
      return json(res, 200, {
        id: idOf(login),
        login,
        name: `The ${login}`,
        email: login.startsWith("private-") ? null : address,
      });
    }
    if (url.pathname === "/api/v3/user/emails") {
      if (!grant.scope.split(/[ ,]/).includes("user:email")) return json(res, 404, { message: "Not Found" });
      return json(res, 200, [
        { email: `${login}@old.github-like.test`, primary: false, verified: true, visibility: null },
        { email: address, primary: true, verified: !login.startsWith("unverified-"), visibility: "public" },
      ]);
    }
  }
  json(res, 404, { message: "Not Found" });
});

server.listen(0, "127.0.0.1", () => {
  console.log(`ISSUER=http://127.0.0.1:${server.address().port}`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => process.exit(0));
}
