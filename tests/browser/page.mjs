// The map page of `geoloc serve` in headless Chromium (playwright-core).
//
//   node page.mjs PLAYWRIGHT_CORE_DIR BASE_URL PHOTO OUT_DIR [README_PNG]
//
// Opens BASE_URL/, uploads PHOTO through the file input and checks: the
// country outlines drawn, the answer's coordinates in France (lat 41..51,
// lon -5..10), at least one top cell shaded in Leaflet's overlay pane, the
// top-k list rendered (5 rows, the first being the answer's cell), no
// console error nor page error; the same on a phone-sized screen (no
// horizontal scrolling, map and answer visible); and an unreadable upload
// shown to the user as an error. Screenshots go to OUT_DIR (and, when
// README_PNG is given, the desktop one there too). Exits 0 when every check
// passes, 1 otherwise (each failure printed).
import { createRequire } from 'node:module';
import path from 'node:path';

const [pwDir, baseUrl, photo, outDir, readmePng] = process.argv.slice(2);
const { chromium } = createRequire(import.meta.url)(path.resolve(pwDir));

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok' : 'FAIL'}: ${what}`);
  if (!ok) failures++;
}

// Opens the page at a viewport size, uploads the photo, checks the answer.
async function locateOn(browser, viewport, name) {
  const page = await browser.newPage({ viewport });
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(`${baseUrl}/`);
  await page.waitForFunction(() => document.querySelectorAll('.leaflet-overlay-pane path').length > 100,
    null, { timeout: 20000 });
  check(true, `${name}: country outlines drawn`);

  await page.setInputFiles('#files', photo);
  await page.waitForSelector('.answer .where', { timeout: 120000 });
  const where = await page.textContent('.answer .where');
  const [lat, lon] = where.split(',').map(Number);
  check(lat >= 41 && lat <= 51 && lon >= -5 && lon <= 10, `${name}: answer ${where} in France`);

  await page.waitForSelector('.leaflet-overlay-pane path.cell', { state: 'attached', timeout: 20000 });
  const cells = await page.$$eval('.leaflet-overlay-pane path.cell', (paths) => paths.length);
  check(cells >= 1, `${name}: ${cells} shaded cells in the overlay pane`);

  const info = await page.textContent('.answer');
  check(/within \d+ km \(50 %\), \d+ km \(90 %\)/.test(info) && /France/.test(info),
    `${name}: the answer's radii and place shown`);
  const rows = await page.$$eval('.answer .top tbody tr', (trs) => trs.map((tr) => tr.textContent));
  const meta = await page.textContent('.answer .meta');
  const best = meta.match(/^cell (\S+)/);
  check(rows.length === 5 && best && rows[0].startsWith(best[1]),
    `${name}: top-5 list rendered (${rows.length} rows, first ${rows[0]}; ${meta})`);
  await page.waitForSelector('.leaflet-tooltip', { state: 'attached', timeout: 5000 });

  const fits = await page.evaluate(() => {
    const map = document.getElementById('map').getBoundingClientRect();
    return document.documentElement.scrollWidth <= window.innerWidth && map.width > 0 && map.height > 200;
  });
  check(fits, `${name}: page fits the ${viewport.width}px width, map shown`);
  await page.waitForTimeout(500); // let the fitBounds animation end before the screenshot
  await page.screenshot({ path: path.join(outDir, `serve-page-${name}.png`) });
  check(problems.length === 0, `${name}: no console errors${problems.length ? `: ${problems.join('; ')}` : ''}`);
  return page;
}

async function main() {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const desktop = await locateOn(browser, { width: 1100, height: 640 }, 'desktop');
    if (readmePng) await desktop.screenshot({ path: readmePng });
    await locateOn(browser, { width: 390, height: 844 }, 'phone');

    // a file that is not a photo: the user is told, nothing is drawn
    await desktop.setInputFiles('#files', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a photo\n') });
    await desktop.waitForFunction(() => {
      const shown = [document.querySelector('#status.error'), document.querySelector('.answer .error')];
      return shown.some((e) => e && e.textContent.trim().length > 0);
    }, null, { timeout: 30000 });
    const message = await desktop.evaluate(() =>
      (document.querySelector('#status.error') || document.querySelector('.answer .error')).textContent);
    const cellsLeft = await desktop.$$eval('.leaflet-overlay-pane path.cell', (paths) => paths.length);
    check(cellsLeft === 0, `an unreadable upload is shown as an error ("${message.trim()}"), no cell drawn`);
  } finally {
    await browser.close();
  }
}

main().then(() => {
  console.log(failures ? `${failures} checks failed` : 'all checks passed');
  process.exit(failures ? 1 : 0);
}, (e) => {
  console.log(`FAIL: ${e.message}`);
  process.exit(1);
});
