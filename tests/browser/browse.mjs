// The pages people look at, in a real browser: Debian's Chromium, headless,
// driven by playwright-core (never a downloaded browser).
//   node tests/browser/browse.mjs BASE_URL SCREENSHOT_DIR
// Loads /docs and checks Swagger UI rendered the contract; loads /, picks
// a city, opens a property and checks its rooms; searches users; searches
// listings (by place, bedrooms and words) and checks the map shows one
// marker per located result, 390 and 412 px wide. Fails on any failed
// check, any console error, and any request to another host (the map has
// no tiles unless configured).
import { chromium } from "playwright-core";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [base, shots] = process.argv.slice(2);
if (!base || !shots) {
  console.error("usage: node browse.mjs BASE_URL SCREENSHOT_DIR");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
const origin = new URL(base).origin;
const problems = [];
const profile = mkdtempSync(join(tmpdir(), "roost-chromium-"));

const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
  viewport: { width: 390, height: 844 }, // a phone
});

function check(ok, message) {
  if (!ok) problems.push(message);
  return ok;
}

try {
  const page = context.pages()[0] || (await context.newPage());
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
    problems.push(`request to another host: ${url}`);
    return route.abort();
  });
  page.on("console", (msg) => { if (msg.type() === "error") problems.push(`console error: ${msg.text()}`); });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));

  // /docs: Swagger UI renders the operations of /openapi.json.
  await page.goto(`${base}/docs`);
  await page.waitForSelector(".opblock", { timeout: 30000 });
  const ops = await page.locator(".opblock").count();
  check(ops >= 30, `/docs shows ${ops} operations, expected the whole contract`);
  check(await page.locator(".opblock-summary-path", { hasText: "/api/v1/properties/{id}/bookings" }).count() > 0,
        "/docs does not show the bookings route");
  await page.screenshot({ path: join(shots, "docs.png"), fullPage: false });

  // /: pick Lisbon, see its two properties, open the one with rooms.
  await page.goto(`${base}/`);
  await page.waitForFunction(() => document.querySelectorAll("#city option").length > 1, null, { timeout: 15000 });
  const options = await page.locator("#city option").allTextContents();
  check(options.some((o) => o.startsWith("Lisbon (2)")), `cities are ${JSON.stringify(options)}`);
  await page.selectOption("#city", "Lisbon");
  await page.waitForFunction(() => document.querySelectorAll("#property-list li").length === 2, null, { timeout: 15000 });
  const names = await page.locator("#property-list li button").allTextContents();
  check(JSON.stringify(names.sort()) === JSON.stringify(["Alfama Loft", "Tagus View"]), `Lisbon shows ${names}`);
  await page.screenshot({ path: join(shots, "city.png"), fullPage: true });
  await page.locator("#property-list li button", { hasText: "Tagus View" }).click();
  await page.waitForSelector("#property-detail:not([hidden])", { timeout: 15000 });
  check((await page.textContent("#detail-name")) === "Tagus View", "the opened property is not Tagus View");
  check(!(await page.locator("#property-list").isVisible()), "the list is still shown beside the open property");
  const rooms = await page.locator("#detail-rooms li").allTextContents();
  check(rooms.length === 2, `the property shows ${rooms.length} rooms`);
  check(rooms.some((r) => r.includes("Master bedroom") && r.includes("floor: 4")), `rooms are ${JSON.stringify(rooms)}`);
  check(rooms.some((r) => r.includes("Kitchen") && r.includes("kitchen")), `rooms are ${JSON.stringify(rooms)}`);
  // Its two photos: the cover shown large and loaded, a thumbnail of each that takes its place.
  await page.waitForFunction(() => document.querySelector("#detail-gallery img.photo")?.naturalWidth > 0, null,
                             { timeout: 15000 });
  check(await page.locator("#detail-gallery button.thumb").count() === 2, "the gallery has not two thumbnails");
  const cover = await page.getAttribute("#detail-gallery img.photo", "src");
  await page.locator("#detail-gallery button.thumb").nth(1).click();
  check((await page.getAttribute("#detail-gallery img.photo", "src")) !== cover, "a thumbnail does not show its photo");
  await page.screenshot({ path: join(shots, "property.png"), fullPage: true });
  await page.click("#property-close");
  await page.waitForSelector("#property-list li", { timeout: 15000 });
  check(await page.locator("#property-detail").isHidden(), "the property stays open after going back");

  // Users: search finds the user who made them, and only them.
  await page.fill("#username", process.env.ROOST_BROWSER_USER || "");
  await page.click("#user-search button");
  await page.waitForFunction(() => document.querySelector("#user-count").textContent === "1 user", null, { timeout: 15000 });
  const users = await page.locator("#user-list li").allTextContents();
  check(users.length === 1 && users[0].includes(process.env.ROOST_BROWSER_USER), `users are ${JSON.stringify(users)}`);
  await page.screenshot({ path: join(shots, "users.png"), fullPage: true });

  // The listing search: the markers on the map are the results.
  for (const width of [390, 412]) {
    await page.setViewportSize({ width, height: 844 });
    await page.goto(`${base}/`);
    await page.waitForFunction(() => document.querySelectorAll("#search-city option").length > 1, null, { timeout: 15000 });
    await page.waitForFunction(() => /listings?$/.test(document.querySelector("#listing-count").textContent), null,
                               { timeout: 15000 });
    const all = await page.locator("#listing-list li").count();
    const allMarkers = await page.locator("#map path.listing-marker").count();
    check(all === 3 && allMarkers === 3, `${width} px, every listing: ${all} results, ${allMarkers} markers`);
    await page.selectOption("#search-city", "Lisbon");
    await page.click("#listing-search button[type=submit]");
    await page.waitForFunction(() => document.querySelector("#listing-count").textContent === "2 listings", null,
                               { timeout: 15000 });
    const results = await page.locator("#listing-list li").allTextContents();
    const markers = await page.locator("#map path.listing-marker").count();
    check(results.length === 2 && markers === 2, `${width} px, Lisbon: ${results.length} results, ${markers} markers`);
    check(results.some((r) => r.includes("Tagus View")) && !results.some((r) => r.includes("Ribeira")),
          `Lisbon's results are ${JSON.stringify(results)}`);
    const covers = await page.locator("#listing-list li img.cover").count();
    check(covers === 1, `${width} px: ${covers} results show a cover photo; only Tagus View has photos`);
    await page.selectOption("#search-bedrooms", "1");
    await page.click("#listing-search button[type=submit]");
    await page.waitForFunction(() => document.querySelector("#listing-count").textContent === "1 listing", null,
                               { timeout: 15000 });
    check(await page.locator("#map path.listing-marker").count() === 1, `${width} px: one bedroom, not one marker`);
    // Words, anywhere: the address's, in any case.
    await page.selectOption("#search-bedrooms", "");
    await page.selectOption("#search-city", "");
    await page.fill("#search-words", "rua do SOL");
    await page.click("#listing-search button[type=submit]");
    await page.waitForFunction(() => document.querySelector("#listing-count").textContent === "1 listing", null,
                               { timeout: 15000 });
    const found = await page.locator("#listing-list li").allTextContents();
    check(found.length === 1 && found[0].includes("Tagus View"), `${width} px, words: ${JSON.stringify(found)}`);
    const box = await page.locator("#map").boundingBox();
    check(box && box.width <= width && box.width > width / 2, `${width} px: the map is ${box && box.width} px wide`);
    await page.screenshot({ path: join(shots, `search-${width}.png`), fullPage: true });
  }
} catch (err) {
  problems.push(`${err.name}: ${err.message}`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

if (problems.length) {
  console.error("browser test failed:\n- " + problems.join("\n- "));
  process.exit(1);
}
console.log(`browser test passed; screenshots in ${shots}`);
