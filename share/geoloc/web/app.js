// geoloc serve's map page: photos go to POST /v1/locate (one multipart
// request), each answer is listed, and the selected one is drawn on the map:
// its top cells (GET /v1/cells/{token}) shaded by probability, the answer
// marked. Plain JS, no build step; Leaflet and the country outlines come
// from this server (/static/).
'use strict';

const TOP = 5;
const COLORS = ['#d7301f', '#fc8d59', '#fdbb84', '#9ebcda', '#8c96c6'];

const $ = (id) => document.getElementById(id);
const statusLine = $('status');
const results = $('results');

const map = L.map('map', { worldCopyJump: true, minZoom: 1 }).setView([25, 0], 2);
map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
const answerLayer = L.featureGroup().addTo(map);
const cellCache = new Map();

function say(text, isError) {
  statusLine.textContent = text;
  statusLine.className = isError ? 'error' : '';
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, attrs || {});
  for (const child of children) node.append(child);
  return node;
}

const fmt = (x, digits) => Number(x).toFixed(digits);

// The reply's JSON, or an Error carrying the server's {"error": ...} text.
async function json(response) {
  const body = await response.json().catch(() => null);
  if (response.ok && body !== null) return body;
  throw new Error((body && body.error) || `HTTP ${response.status} ${response.statusText}`);
}

function authHeaders() {
  const token = $('token').value.trim();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function loadCountries() {
  try {
    const outlines = await json(await fetch('/static/countries.geojson'));
    L.geoJSON(outlines, {
      interactive: false,
      style: { color: '#7d8799', weight: 0.7, fillColor: '#f4f1e8', fillOpacity: 1 },
    }).addTo(map);
    answerLayer.bringToFront();
  } catch (e) {
    say(`Country outlines unavailable: ${e.message}`, true);
  }
}

async function cellFeature(token) {
  if (!cellCache.has(token)) {
    cellCache.set(token, fetch(`/v1/cells/${encodeURIComponent(token)}`, { headers: authHeaders() })
      .then(json)
      .catch((e) => { cellCache.delete(token); throw e; }));
  }
  return cellCache.get(token);
}

// A place name when the answer carries one (a string or {name: ...}).
function placeName(place) {
  if (!place) return '';
  return typeof place === 'string' ? place : place.name || '';
}

// Confidence radii (km) when the answer carries them: a number, a list or
// an object of numbers (e.g. by confidence level).
function radii(radiusKm) {
  if (radiusKm === undefined || radiusKm === null) return [];
  const values = typeof radiusKm === 'object' ? Object.values(radiusKm) : [radiusKm];
  return values.map(Number).filter((r) => Number.isFinite(r) && r > 0).sort((a, b) => b - a);
}

// Draws an answer's top cells (shaded by probability, with a dot sized by
// it, visible when a cell is too small at the zoom), confidence circles and
// marker, then shows them all, or the top cell `focus` when given.
// A draw started earlier is dropped when a newer one (or a new upload) began
// while its cells were being fetched.
let drawing = 0;
async function drawAnswer(answer, focus) {
  const draw = ++drawing;
  const cells = await Promise.allSettled(answer.top.map((c) => cellFeature(c.cell)));
  if (draw !== drawing) return;
  answerLayer.clearLayers();
  const shapes = [];
  const maxProb = Math.max(...answer.top.map((c) => c.prob), 1e-9);
  cells.forEach((result, k) => {
    const cell = answer.top[k];
    if (result.status !== 'fulfilled') {
      say(`Cell ${cell.cell}: ${result.reason.message}`, true);
      return;
    }
    shapes[k] = L.geoJSON(result.value, {
      style: {
        className: 'cell', color: COLORS[k % COLORS.length], weight: 1.5,
        fillColor: COLORS[k % COLORS.length], fillOpacity: 0.15 + 0.55 * (cell.prob / maxProb),
      },
    }).bindTooltip(`${cell.cell}: p=${fmt(cell.prob, 4)}`).addTo(answerLayer);
    L.circleMarker([cell.lat, cell.lon], {
      className: 'cell-dot', radius: 3 + 12 * Math.sqrt(cell.prob / maxProb), color: COLORS[k % COLORS.length],
      weight: 1, fillOpacity: 0.35,
    }).bindTooltip(`${cell.cell}: p=${fmt(cell.prob, 4)}`).addTo(answerLayer);
  });
  for (const r of radii(answer.radius_km)) {
    L.circle([answer.lat, answer.lon], { radius: r * 1000, color: '#1d2433', weight: 1, fill: false, dashArray: '4 4' })
      .bindTooltip(`${fmt(r, 0)} km`).addTo(answerLayer);
  }
  const label = placeName(answer.place) || `${fmt(answer.lat, 4)}, ${fmt(answer.lon, 4)}`;
  L.circleMarker([answer.lat, answer.lon], { radius: 5, color: '#fff', weight: 2, fillColor: '#1d2433', fillOpacity: 1 })
    .bindTooltip(label, { permanent: true, direction: 'top', offset: [0, -8] }).addTo(answerLayer);
  const shown = focus === undefined ? answerLayer : shapes[focus];
  if (shown) map.fitBounds(shown.getBounds(), { padding: [32, 32], maxZoom: 9 });
}

function topTable(answer) {
  const table = el('table', { className: 'top' },
    el('thead', {}, el('tr', {}, el('th', {}, 'cell'), el('th', {}, 'p'), el('th', {}, 'lat, lon'))));
  const body = el('tbody');
  answer.top.forEach((c, k) => {
    const swatch = el('span', { className: 'swatch' });
    swatch.style.background = COLORS[k % COLORS.length];
    const row = el('tr', { title: 'show on the map' }, el('td', {}, swatch, c.cell),
      el('td', { className: 'num' }, fmt(c.prob, 4)), el('td', { className: 'num' }, `${fmt(c.lat, 4)}, ${fmt(c.lon, 4)}`));
    row.addEventListener('click', (e) => { e.stopPropagation(); select(row.closest('.answer'), answer, k); });
    body.append(row);
  });
  table.append(body);
  return table;
}

function select(item, answer, focus) {
  for (const other of results.children) other.classList.toggle('selected', other === item);
  drawAnswer(answer, focus).catch((e) => say(e.message, true));
}

function showAnswer(file, answer) {
  const info = el('div', {}, el('h2', {}, file.name));
  const item = el('li', { className: 'answer' }, el('img', { src: URL.createObjectURL(file), alt: '' }), info);
  if (answer.error) {
    info.append(el('p', { className: 'error' }, answer.error));
  } else {
    const place = placeName(answer.place);
    if (answer.unknown) info.append(el('div', { className: 'unknown' }, 'unknown: the best guess follows'));
    info.append(el('div', { className: 'where' }, `${fmt(answer.lat, 4)}, ${fmt(answer.lon, 4)}`));
    if (place) info.append(el('div', { className: 'place' }, place));
    info.append(el('div', { className: 'meta' }, `cell ${answer.cell} (level ${answer.level}), p=${fmt(answer.prob, 4)}`));
    if (answer.radius_km) {
      const r = answer.radius_km;
      info.append(el('div', { className: 'meta' }, `within ${fmt(r['50'], 0)} km (50 %), ${fmt(r['90'], 0)} km (90 %)`));
    }
    if (answer.scene) {
      const levels = Object.entries(answer.scene).map(([level, s]) => `${level} ${s.name} ${fmt(s.prob, 2)}`);
      info.append(el('div', { className: 'meta' }, `scene: ${levels.join(', ')}`));
    }
    for (const w of answer.warnings || []) info.append(el('div', { className: 'meta error' }, w));
    item.append(topTable(answer));
    item.addEventListener('click', () => select(item, answer));
  }
  results.append(item);
  return item;
}

async function locate(files) {
  if (!files.length) return;
  results.replaceChildren();
  drawing++;
  answerLayer.clearLayers();
  say(`Locating ${files.length} photo${files.length > 1 ? 's' : ''}…`);
  const form = new FormData();
  for (const file of files) form.append('photo', file, file.name);
  try {
    const answers = await json(await fetch(`/v1/locate?top=${TOP}`, { method: 'POST', body: form, headers: authHeaders() }));
    const list = Array.isArray(answers) ? answers : [answers];
    let first = null;
    list.forEach((answer, i) => {
      const item = showAnswer(files[i], answer);
      if (!first && !answer.error) first = [item, answer];
    });
    const failed = list.filter((a) => a.error).length;
    say(failed ? `${failed} of ${list.length} photos could not be read.` : '', failed > 0);
    if (first) select(...first);
  } catch (e) {
    say(`Could not locate: ${e.message}`, true);
  }
}

const input = $('files');
input.addEventListener('change', () => { locate([...input.files]); input.value = ''; });
// photos may be dropped anywhere on the page (the drop zone lights up)
const drop = $('drop');
document.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
document.addEventListener('dragleave', (e) => { if (!e.relatedTarget) drop.classList.remove('over'); });
document.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  locate([...e.dataTransfer.files]);
});
loadCountries();
