// predict's GeoJSON in a real Leaflet page, in headless Chromium (playwright-core).
//
//   node geojson.mjs PLAYWRIGHT_CORE_DIR LEAFLET_DIR GEOJSON [SCREENSHOT]
//
// Loads Leaflet (LEAFLET_DIR/leaflet.js and leaflet.css) into an empty page,
// adds the FeatureCollection with L.geoJSON, and checks: as many layers as
// features, one marker per answer Point, an SVG path drawn for every
// polygon layer, bounds that Leaflet computes as finite, no console error
// nor page error. Exits 0 when every check passes, 1 otherwise.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const [pwDir, leafletDir, geojsonPath, screenshot] = process.argv.slice(2);
const { chromium } = createRequire(import.meta.url)(path.resolve(pwDir));
const doc = JSON.parse(fs.readFileSync(geojsonPath, 'utf8'));

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok' : 'FAIL'}: ${what}`);
  if (!ok) failures++;
}

async function main() {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 600 } });
    const problems = [];
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.setContent('<!doctype html><html><head><meta charset="utf-8"></head>' +
      '<body style="margin:0"><div id="map" style="width:1000px;height:600px"></div></body></html>');
    await page.addStyleTag({ path: path.join(leafletDir, 'leaflet.css') });
    await page.addScriptTag({ path: path.join(leafletDir, 'leaflet.js') });
    const got = await page.evaluate((data) => {
      const map = L.map('map', { preferCanvas: false }).setView([20, 0], 2);
      const layer = L.geoJSON(data, {
        style: (f) => ({ weight: 1, fillOpacity: f.properties.kind === 'cell' ? Math.min(0.9, 0.1 + f.properties.prob) : 0.05 }),
      }).addTo(map);
      const layers = layer.getLayers();
      const b = layer.getBounds();
      map.fitBounds(b);
      return {
        layers: layers.length,
        markers: layers.filter((l) => l instanceof L.Marker).length,
        polygons: layers.filter((l) => l instanceof L.Polygon).length,
        bounds: [b.getSouth(), b.getWest(), b.getNorth(), b.getEast()],
      };
    }, doc);
    const n = doc.features.length;
    const points = doc.features.filter((f) => f.geometry.type === 'Point').length;
    check(got.layers === n, `L.geoJSON(...).getLayers().length ${got.layers} equals the ${n} features`);
    check(got.markers === points && points >= 1, `${got.markers} markers for ${points} answer points`);
    check(got.polygons === n - points, `${got.polygons} polygon layers for ${n - points} polygon features`);
    check(got.bounds.every(Number.isFinite) && got.bounds[0] >= -90 && got.bounds[2] <= 90 &&
      got.bounds[1] >= -180 && got.bounds[3] <= 180, `bounds ${got.bounds.join(', ')}`);
    await page.waitForTimeout(300);
    const paths = await page.$$eval('.leaflet-overlay-pane path', (ps) => ps.length);
    check(paths === got.polygons, `${paths} SVG paths drawn for ${got.polygons} polygons`);
    if (screenshot) await page.screenshot({ path: screenshot });
    check(problems.length === 0, `no console errors${problems.length ? `: ${problems.join('; ')}` : ''}`);
  } finally {
    await browser.close();
  }
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  console.log(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
