import { type Browser, type Page, expect, test } from "@playwright/test";

// What the release build sends over the wire: its own files precompressed and
// fingerprinted, cached for a year; a second visit fetches only the page.

/** The build's files the page links to, by kind. */
async function linkedFiles(html: string) {
  const find = (extension: string) => {
    const match = html.match(new RegExp(`/pkg/gatehouse\\.[A-Za-z0-9_-]{22}\\.${extension}`));
    expect(match, `a fingerprinted .${extension} linked from the page`).not.toBeNull();
    return match![0];
  };
  return { wasm: find("wasm"), js: find("js"), css: find("css") };
}

test("the build's files arrive precompressed, under hashed names, cached for a year", async ({ request }) => {
  const files = await linkedFiles(await (await request.get("/")).text());
  for (const path of Object.values(files)) {
    const plain = await request.get(path, { headers: { "accept-encoding": "identity" } });
    expect(plain.status()).toBe(200);
    expect(plain.headers()["content-encoding"]).toBeUndefined();
    const plainBytes = Number(plain.headers()["content-length"]);
    for (const encoding of ["br", "gzip"]) {
      const packed = await request.get(path, { headers: { "accept-encoding": encoding } });
      expect(packed.status()).toBe(200);
      expect(packed.headers()["content-encoding"]).toBe(encoding);
      expect(packed.headers()["cache-control"]).toBe("public, max-age=31536000, immutable");
      expect(packed.headers()["vary"]?.toLowerCase()).toContain("accept-encoding");
      const packedBytes = Number(packed.headers()["content-length"]);
      expect(packedBytes, `${path} as ${encoding}`).toBeLessThan(plainBytes * 0.8);
      // Playwright decodes the body: the same file as the plain one.
      expect((await packed.body()).length).toBe(plainBytes);
    }
  }
  const wasm = await request.get(files.wasm, { headers: { "accept-encoding": "br" } });
  // The budget is 150 kB brotli (148.8 kB since /account's link form needed the smallest
  // island there is): a new island must fit or something else must give way.
  expect(Number(wasm.headers()["content-length"])).toBeLessThanOrEqual(150_000);

  // Pages are compressed on the fly and never stored; a name that is not a file is the
  // 404 page, not something to cache.
  const page = await request.get("/", { headers: { "accept-encoding": "br" } });
  expect(page.headers()["content-encoding"]).toBe("br");
  expect(page.headers()["cache-control"]).toBe("no-store");
  const missing = await request.get("/pkg/gatehouse.AAAAAAAAAAAAAAAAAAAAAA.wasm");
  expect(missing.status()).toBe(404);
  expect(missing.headers()["cache-control"]).toBe("no-store");
  const icon = await request.get("/favicon.svg");
  expect(icon.headers()["cache-control"]).toBe("no-cache");
});

type Fetch = { path: string; status: number; cached: boolean; bytes: number };
type Visit = { total: number; fetches: Fetch[] };

/** Loads the page and records every request: answered from the browser's cache, or
 * over the network with how many bytes (headers and body, as sent). */
async function visit(page: Page, path: string): Promise<Visit> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  const fetches = new Map<string, Fetch>();
  const fetchOf = (requestId: string) => {
    const fetch = fetches.get(requestId) ?? { path: "", status: 0, cached: false, bytes: 0 };
    fetches.set(requestId, fetch);
    return fetch;
  };
  cdp.on("Network.requestWillBeSent", (event) => {
    fetchOf(event.requestId).path = new URL(event.request.url).pathname;
  });
  cdp.on("Network.requestServedFromCache", (event) => {
    fetchOf(event.requestId).cached = true;
  });
  cdp.on("Network.responseReceived", (event) => {
    const fetch = fetchOf(event.requestId);
    fetch.status = event.response.status;
    fetch.cached ||= Boolean(event.response.fromDiskCache || event.response.fromPrefetchCache);
  });
  cdp.on("Network.loadingFinished", (event) => {
    const fetch = fetchOf(event.requestId);
    if (!fetch.cached) fetch.bytes = event.encodedDataLength;
  });
  await page.goto(path);
  await page.waitForLoadState("networkidle");
  await cdp.detach();
  const all = [...fetches.values()];
  return { total: all.reduce((sum, fetch) => sum + fetch.bytes, 0), fetches: all };
}

async function twoVisits(browser: Browser, javaScriptEnabled: boolean) {
  const context = await browser.newContext({ javaScriptEnabled });
  const page = await context.newPage();
  const first = await visit(page, "/");
  const second = await visit(page, "/");
  await context.close();
  return { first, second };
}

test("a first and a second visit: what crosses the network", async ({ browser }) => {
  const withScript = await twoVisits(browser, true);
  const withoutScript = await twoVisits(browser, false);
  const kB = (bytes: number) => `${(bytes / 1000).toFixed(1)} kB`;
  console.log(
    [
      "bytes on the wire for GET / (headers and bodies, as Chromium received them):",
      `  JavaScript on,  first visit:  ${kB(withScript.first.total)}`,
      `  JavaScript on,  second visit: ${kB(withScript.second.total)}`,
      `  JavaScript off, first visit:  ${kB(withoutScript.first.total)}`,
      `  JavaScript off, second visit: ${kB(withoutScript.second.total)}`,
    ].join("\n"),
  );

  const describe = (fetches: Fetch[]) =>
    fetches
      .map(({ path, status, cached, bytes }) => `${path} ${cached ? "cache" : `${status} ${kB(bytes)}`}`)
      .join(", ");
  console.log(`  first visit:  ${describe(withScript.first.fetches)}`);
  console.log(`  second visit: ${describe(withScript.second.fetches)}`);

  const wasm = withScript.first.fetches.filter(({ path }) => path.endsWith(".wasm"));
  expect(wasm, "the WASM is fetched once on a first visit").toHaveLength(1);
  // Brotli on the wire: the budget holds for what the browser really receives.
  expect(wasm[0].bytes).toBeLessThanOrEqual(151_000);
  expect(withScript.first.total).toBeLessThanOrEqual(200_000);
  // A second visit fetches the page; every file of the build comes from the cache.
  const build = withScript.second.fetches.filter(({ path }) => path.startsWith("/pkg/"));
  expect(build.filter(({ cached }) => cached)).toHaveLength(3);
  for (const second of [withScript.second, withoutScript.second]) {
    const overTheNetwork = second.fetches.filter(({ path, bytes }) => path.startsWith("/pkg/") && bytes > 0);
    expect(overTheNetwork, describe(second.fetches)).toEqual([]);
    expect(second.total).toBeLessThan(10_000);
  }
});
