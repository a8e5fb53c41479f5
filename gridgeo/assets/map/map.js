/* gridgeo map.html: draws a whole partition run on a canvas, only what is in view.
 *
 * Static program (the same text for every map, admitted by its hash).  It reads the JSON block #gg-data written
 * by gridgeo/maps.py (see its docstring for the format and the window.gridgeo contract).  Every string taken from
 * the data is already HTML-escaped, so it may go into innerHTML; decode() gives the plain text for canvas labels
 * and search.
 */
(function () {
  'use strict';
  var api = window.gridgeo = window.gridgeo || {};
  var resolveReady, rejectReady;
  api.ready = new Promise(function (resolve, reject) { resolveReady = resolve; rejectReady = reject; });

  var BUILDING_ZOOM = 15, UNIT_ZOOM = 17, UNIT_LABEL_ZOOM = 18;
  var FLAG_STATUS = {out_of_band: 1, infeasible_total: 1, detached_part: 1, edited_split: 1, _other: 1};
  var FLAGGED_ORDER = ['out_of_band', 'infeasible_total', 'detached_part', 'edited_split', '_other', 'oversize_building', 'dedicated'];

  var D, T;
  try {
    D = JSON.parse(document.getElementById('gg-data').textContent);
    T = D.labels;
    if (D.edit !== undefined) api.editModel = D.edit;
  } catch (err) {
    rejectReady(err);
    throw err;
  }

  // ------------------------------------------------------------------ helpers
  var decoder = document.createElement('textarea');
  function decode(s) {
    if (s === null || s === undefined) return '';
    s = String(s);
    if (s.indexOf('&') < 0) return s;
    decoder.innerHTML = s;
    return decoder.value;
  }
  function fmt(n, d) {
    if (n === null || n === undefined) return '\u2014';
    return Number(n).toLocaleString(D.locale, {minimumFractionDigits: d || 0, maximumFractionDigits: d || 0});
  }
  function has(v) { return v !== null && v !== undefined; }
  function row(k, v) { return '<tr><th>' + k + '</th><td>' + (v === null || v === undefined || v === '' ? '\u2014' : v) + '</td></tr>'; }
  function col(layer, key, i) { var c = layer.p[key]; return c ? c[i] : undefined; }

  // ------------------------------------------------------------------ decoding
  // Coordinates become Leaflet's EPSG:3857 pixels at zoom 0 (x, y in 0..256): pixel at zoom z = value * 2^z.
  var OX = D.origin[0], OY = D.origin[1], S = D.scale, MAXLAT = 85.0511287798;
  function decodeLayer(src, name) {
    if (!src) return null;
    var g = src.geom, n = g.n.length, np = g.r.length, nr = g.v.length, xy = g.xy, nv = xy.length / 2;
    var L = {name: name, kind: src.kind, p: src.p, count: n};
    var X = new Float64Array(nv), Y = new Float64Array(nv), x = OX, y = OY, k, i, j, r;
    for (k = 0; k < nv; k++) {
      x += xy[2 * k]; y += xy[2 * k + 1];
      var lat = y / S;
      lat = lat > MAXLAT ? MAXLAT : (lat < -MAXLAT ? -MAXLAT : lat);
      var s = Math.sin(lat * Math.PI / 180);
      X[k] = (x / S + 180) / 360 * 256;
      Y[k] = (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * 256;
    }
    var fp = new Int32Array(n + 1), pr = new Int32Array(np + 1), rv = new Int32Array(nr + 1);
    for (i = 0; i < n; i++) fp[i + 1] = fp[i] + g.n[i];
    for (i = 0; i < np; i++) pr[i + 1] = pr[i] + g.r[i];
    for (i = 0; i < nr; i++) rv[i + 1] = rv[i] + g.v[i];
    var bx0 = new Float64Array(n), by0 = new Float64Array(n), bx1 = new Float64Array(n), by1 = new Float64Array(n);
    for (i = 0; i < n; i++) {
      var a = Infinity, b = Infinity, c = -Infinity, d = -Infinity;
      for (j = fp[i]; j < fp[i + 1]; j++) {
        for (r = pr[j]; r < pr[j + 1]; r++) {
          for (k = rv[r]; k < rv[r + 1]; k++) {
            if (X[k] < a) a = X[k]; if (X[k] > c) c = X[k];
            if (Y[k] < b) b = Y[k]; if (Y[k] > d) d = Y[k];
          }
        }
      }
      bx0[i] = a; by0[i] = b; bx1[i] = c; by1[i] = d;
    }
    L.X = X; L.Y = Y; L.fp = fp; L.pr = pr; L.rv = rv; L.bx0 = bx0; L.by0 = by0; L.bx1 = bx1; L.by1 = by1;
    if (src.lp) {
      L.lx = new Float64Array(n); L.ly = new Float64Array(n);
      for (i = 0; i < n; i++) {
        var lat2 = (src.lp[2 * i + 1] + OY) / S, s2 = Math.sin(lat2 * Math.PI / 180);
        L.lx[i] = ((src.lp[2 * i] + OX) / S + 180) / 360 * 256;
        L.ly[i] = (0.5 - Math.log((1 + s2) / (1 - s2)) / (4 * Math.PI)) * 256;
      }
    }
    L.mark = new Uint32Array(n); L.stamp = 0;
    return L;
  }

  // A uniform grid of cells over the layer's extent, each listing the features whose box touches it.
  function buildIndex(L) {
    var n = L.count, i, minx = Infinity, miny = Infinity, maxx = -Infinity, maxy = -Infinity;
    for (i = 0; i < n; i++) {
      if (!(L.bx0[i] <= L.bx1[i])) continue;
      if (L.bx0[i] < minx) minx = L.bx0[i]; if (L.by0[i] < miny) miny = L.by0[i];
      if (L.bx1[i] > maxx) maxx = L.bx1[i]; if (L.by1[i] > maxy) maxy = L.by1[i];
    }
    var cells = Math.max(1, Math.min(1024, Math.ceil(Math.sqrt(n / 2))));
    if (!(minx <= maxx)) { minx = miny = 0; maxx = maxy = 1; }
    var cw = (maxx - minx) / cells || 1e-12, ch = (maxy - miny) / cells || 1e-12;
    var counts = new Int32Array(cells * cells + 1), pass, ci, cj;
    var start = null, items = null, fill = null;
    for (pass = 0; pass < 2; pass++) {
      for (i = 0; i < n; i++) {
        if (!(L.bx0[i] <= L.bx1[i])) continue;
        var i0 = Math.min(cells - 1, Math.floor((L.bx0[i] - minx) / cw)), i1 = Math.min(cells - 1, Math.floor((L.bx1[i] - minx) / cw));
        var j0 = Math.min(cells - 1, Math.floor((L.by0[i] - miny) / ch)), j1 = Math.min(cells - 1, Math.floor((L.by1[i] - miny) / ch));
        for (cj = j0; cj <= j1; cj++) {
          for (ci = i0; ci <= i1; ci++) {
            if (pass === 0) counts[cj * cells + ci + 1]++;
            else items[fill[cj * cells + ci]++] = i;
          }
        }
      }
      if (pass === 0) {
        for (i = 0; i < cells * cells; i++) counts[i + 1] += counts[i];
        start = counts; items = new Int32Array(counts[cells * cells]); fill = Int32Array.from(counts.subarray(0, cells * cells));
      }
    }
    L.index = {cells: cells, minx: minx, miny: miny, cw: cw, ch: ch, start: start, items: items};
  }

  // Calls fn(i) once for every feature whose box meets the box x0..x1, y0..y1.
  function query(L, x0, y0, x1, y1, fn) {
    if (!L || !L.index) return;
    var I = L.index, c = I.cells;
    var i0 = Math.max(0, Math.floor((x0 - I.minx) / I.cw)), i1 = Math.min(c - 1, Math.floor((x1 - I.minx) / I.cw));
    var j0 = Math.max(0, Math.floor((y0 - I.miny) / I.ch)), j1 = Math.min(c - 1, Math.floor((y1 - I.miny) / I.ch));
    if (i1 < 0 || j1 < 0 || i0 >= c || j0 >= c) return;
    var stamp = ++L.stamp, mark = L.mark, ci, cj, k, f;
    if (stamp === 4294967295) { mark.fill(0); stamp = L.stamp = 1; }
    for (cj = j0; cj <= j1; cj++) {
      for (ci = i0; ci <= i1; ci++) {
        var cell = cj * c + ci;
        for (k = I.start[cell]; k < I.start[cell + 1]; k++) {
          f = I.items[k];
          if (mark[f] === stamp) continue;
          mark[f] = stamp;
          if (L.bx1[f] < x0 || L.bx0[f] > x1 || L.by1[f] < y0 || L.by0[f] > y1) continue;
          fn(f);
        }
      }
    }
  }

  function pointInFeature(L, f, x, y) {
    var inside = false, p, r, a, e, k, m;
    for (p = L.fp[f]; p < L.fp[f + 1]; p++) {
      for (r = L.pr[p]; r < L.pr[p + 1]; r++) {
        a = L.rv[r]; e = L.rv[r + 1];
        for (k = a, m = e - 1; k < e; m = k++) {
          var yk = L.Y[k], ym = L.Y[m];
          if ((yk > y) !== (ym > y) && x < (L.X[m] - L.X[k]) * (y - yk) / (ym - yk) + L.X[k]) inside = !inside;
        }
      }
    }
    return inside;
  }
  function pointInRing(xs, ys, x, y) {
    var inside = false, k, m, n = xs.length;
    for (k = 0, m = n - 1; k < n; m = k++) {
      if ((ys[k] > y) !== (ys[m] > y) && x < (xs[m] - xs[k]) * (y - ys[k]) / (ys[m] - ys[k]) + xs[k]) inside = !inside;
    }
    return inside;
  }

  var layers = {};
  ['communities', 'grids', 'buildings', 'units', 'unassigned', 'barriers', 'centres', 'compounds'].forEach(function (name) {
    layers[name] = decodeLayer(D.layers[name], name);
    if (layers[name] && name !== 'units') buildIndex(layers[name]);
  });
  var G = layers.grids, B = layers.buildings, U = layers.units, C = layers.communities;

  // joint units: the buildings that make each (ref), or their own geometry; and the units of each building
  (function () {
    var src = D.layers.units, n = U.count, i, k;
    U.rs = new Int32Array(n + 1);
    for (i = 0; i < n; i++) U.rs[i + 1] = U.rs[i] + (src.nref[i] || 0);
    U.ref = Int32Array.from(src.ref);
    var per = new Int32Array(B.count + 1);
    for (k = 0; k < U.ref.length; k++) per[U.ref[k] + 1]++;
    for (i = 0; i < B.count; i++) per[i + 1] += per[i];
    var fill = Int32Array.from(per.subarray(0, B.count)), list = new Int32Array(U.ref.length);
    for (i = 0; i < n; i++) for (k = U.rs[i]; k < U.rs[i + 1]; k++) list[fill[U.ref[k]]++] = i;
    B.us = per; B.ul = list;  // units of building b: B.ul[B.us[b] .. B.us[b + 1])
    for (i = 0; i < n; i++) {  // a unit's box: its buildings' boxes
      if (U.rs[i + 1] === U.rs[i]) continue;
      var a = Infinity, b = Infinity, c = -Infinity, d = -Infinity;
      for (k = U.rs[i]; k < U.rs[i + 1]; k++) {
        var f = U.ref[k];
        a = Math.min(a, B.bx0[f]); b = Math.min(b, B.by0[f]); c = Math.max(c, B.bx1[f]); d = Math.max(d, B.by1[f]);
      }
      U.bx0[i] = a; U.by0[i] = b; U.bx1[i] = c; U.by1[i] = d;
    }
    buildIndex(U);
  })();

  // ------------------------------------------------------------------ the map
  var map = L.map('map', {maxZoom: 20, zoomSnap: 0.5, preferCanvas: true});
  var base = L.layerGroup(D.basemap.layers.map(function (b) {
    return L.tileLayer(b.url, {subdomains: b.subdomains, maxNativeZoom: b.maxNativeZoom, maxZoom: 20, attribution: b.attribution});
  })).addTo(map);
  map.attributionControl.addAttribution(D.dataAttribution);
  function pane(name, z) { var p = map.createPane(name); p.style.zIndex = z; p.style.pointerEvents = 'none'; return name; }

  var on = {communities: true, grids: true, labels: true, buildings: true, units: true, flags: true, unassigned: true,
            changed: true, oversize: false, workload: false, coverage: false, barriers: false, compounds: false, centres: false};

  // A canvas the size of the view (plus padding) that Leaflet moves and scales while panning and zooming.
  var Scene = L.Renderer.extend({
    options: {padding: 0.3},
    _initContainer: function () { this._container = document.createElement('canvas'); this._ctx = this._container.getContext('2d'); },
    _destroyContainer: function () { L.DomUtil.remove(this._container); },
    _update: function () {
      if (this._map._animatingZoom && this._bounds) return;
      L.Renderer.prototype._update.call(this);
      var b = this._bounds, size = b.getSize(), m = window.devicePixelRatio || 1, c = this._container;
      L.DomUtil.setPosition(c, b.min);
      c.width = Math.round(m * size.x); c.height = Math.round(m * size.y);
      c.style.width = size.x + 'px'; c.style.height = size.y + 'px';
      this._scale = m;
      this.redraw();
      this.fire('update');
    },
    redraw: function () {
      if (!this._bounds || !this._map) return;
      var ctx = this._ctx, b = this._bounds, size = b.getSize(), po = this._map.getPixelOrigin(), z = this._map.getZoom();
      var sc = Math.pow(2, z), V = {z: z, sc: sc, ox: po.x + b.min.x, oy: po.y + b.min.y, w: size.x, h: size.y};
      V.x0 = V.ox / sc; V.y0 = V.oy / sc; V.x1 = (V.ox + V.w) / sc; V.y1 = (V.oy + V.h) / sc;
      ctx.setTransform(this._scale, 0, 0, this._scale, 0, 0);
      ctx.clearRect(0, 0, V.w, V.h);
      this.options.draw(ctx, V);
    }
  });

  // ------------------------------------------------------------------ drawing
  var PX = 0.7;  // vertices closer than this many pixels to the last one drawn are skipped
  function traceRing(ctx, L, r, V, close, radius) {
    var a = L.rv[r], e = L.rv[r + 1], X = L.X, Y = L.Y, sc = V.sc, ox = V.ox, oy = V.oy;
    if (e <= a) return;
    var px = X[a] * sc - ox, py = Y[a] * sc - oy;
    if (e - a === 1) { ctx.moveTo(px + radius, py); ctx.arc(px, py, radius, 0, 2 * Math.PI); return; }
    ctx.moveTo(px, py);
    for (var k = a + 1; k < e; k++) {
      var x = X[k] * sc - ox, y = Y[k] * sc - oy;
      if (k < e - 1 && x - px < PX && px - x < PX && y - py < PX && py - y < PX) continue;
      ctx.lineTo(x, y); px = x; py = y;
    }
    if (close) ctx.closePath();
  }
  function trace(ctx, L, f, V, close, radius) {
    var sc = V.sc;
    if (close && (L.bx1[f] - L.bx0[f]) * sc < 1.5 && (L.by1[f] - L.by0[f]) * sc < 1.5 && L.kind !== 'point') {
      ctx.rect(L.bx0[f] * sc - V.ox, L.by0[f] * sc - V.oy, 1.2, 1.2);  // smaller than a pixel: a dot
      return;
    }
    for (var p = L.fp[f]; p < L.fp[f + 1]; p++) for (var r = L.pr[p]; r < L.pr[p + 1]; r++) traceRing(ctx, L, r, V, close, radius || 3);
  }
  function visible(L, V) {
    var out = [];
    query(L, V.x0, V.y0, V.x1, V.y1, function (f) { out.push(f); });
    return out;
  }
  function buckets(list, key) {
    var out = {};
    for (var i = 0; i < list.length; i++) { var k = key(list[i]); (out[k] || (out[k] = [])).push(list[i]); }
    return out;
  }
  function fillGroups(ctx, L, list, V, key, style) {
    var groups = buckets(list, key);
    Object.keys(groups).forEach(function (k) {
      ctx.beginPath();
      groups[k].forEach(function (f) { trace(ctx, L, f, V, true); });
      style(k);
      ctx.fill('evenodd');
    });
  }
  function strokeList(ctx, L, list, V, close) {
    ctx.beginPath();
    for (var i = 0; i < list.length; i++) trace(ctx, L, list[i], V, close);
    ctx.stroke();
  }
  function dash(s) { return s ? s.split(/[ ,]+/).map(Number) : []; }
  function gridColour(g) { return g >= 0 ? D.palette[G.p.k[g]] : '#9e9e9e'; }
  function buildingColour(g) { return g >= 0 ? D.buildingPalette[G.p.k[g]] : '#9e9e9e'; }
  function patternOf(kind) {
    var c = document.createElement('canvas'), x = c.getContext('2d');
    c.width = c.height = 10;
    if (kind === 'hatch') {
      x.strokeStyle = 'rgba(197,27,125,0.6)'; x.lineWidth = 3;
      x.beginPath(); x.moveTo(-2, 12); x.lineTo(12, -2); x.moveTo(-2, 2); x.lineTo(2, -2); x.moveTo(8, 12); x.lineTo(12, 8); x.stroke();
    } else {
      x.fillStyle = 'rgba(8,48,107,0.7)'; x.beginPath(); x.arc(5, 5, 2, 0, 2 * Math.PI); x.fill();
    }
    return x.createPattern(c, 'repeat');
  }
  var patterns = {};

  var drawn = {};  // what the last draw showed (for the tests and the legend hint)
  // grids an update changed: dashed, in colours no status outline uses (the legend lists them when shown)
  var CHANGE_COLOUR = {added: '#01665e', reshaped: '#e7298a', modified: '#8c510a'}, CHANGE_DASH = [10, 4];
  function drawScene(ctx, V) {
    var grids = on.grids ? visible(G, V) : [], z = V.z;
    drawn = {grids: grids.length, outlined: 0, buildings: 0, units: 0, labels: 0, labelled: [], coverage: 0, workload: 0, centres: 0};
    if (grids.length) {
      ctx.globalAlpha = 0.5;
      fillGroups(ctx, G, grids, V, function (g) { return G.p.k[g]; }, function (k) { ctx.fillStyle = D.palette[k]; });
      ctx.globalAlpha = 1;
    }
    [['coverage', 'cf', 'hatch'], ['workload', 'wf', 'dots']].forEach(function (o) {
      if (!on[o[0]] || !G.p[o[1]]) return;
      var list = visible(G, V).filter(function (g) { return G.p[o[1]][g] === true; });
      drawn[o[0]] = list.length;
      if (!list.length) return;
      ctx.beginPath(); list.forEach(function (g) { trace(ctx, G, g, V, true); });
      ctx.fillStyle = patterns[o[2]] || (patterns[o[2]] = patternOf(o[2])); ctx.fill('evenodd');
    });
    if (on.buildings && z >= BUILDING_ZOOM) {
      var bl = visible(B, V);
      drawn.buildings = bl.length;
      ctx.globalAlpha = 0.85;
      fillGroups(ctx, B, bl, V, function (b) { return B.p.g[b]; }, function (g) { ctx.fillStyle = buildingColour(+g); });
      ctx.globalAlpha = 1;
      if (z >= 16.5) { ctx.strokeStyle = 'rgba(20,20,20,0.8)'; ctx.lineWidth = 0.6; ctx.setLineDash([]); strokeList(ctx, B, bl, V, true); }
    }
    if (on.unassigned && layers.unassigned) {
      var xl = visible(layers.unassigned, V);
      ctx.fillStyle = '#bdbdbd'; ctx.strokeStyle = '#555'; ctx.lineWidth = 0.8; ctx.setLineDash([2, 2]);
      ctx.beginPath(); xl.forEach(function (f) { trace(ctx, layers.unassigned, f, V, true); }); ctx.fill('evenodd'); ctx.stroke();
      ctx.setLineDash([]);
    }
    if (grids.length) {
      // status outlines: thin at city zoom, their full weight from street zoom; below zoom 14 an in-band grid
      // smaller than 48 px is told apart by its fill alone (stroking thousands of outlines is the slow part)
      var thin = Math.max(0.25, Math.min(1, (z - 11) / 5)), small = z < 14 ? 48 / V.sc : 0;
      var outlined = small ? grids.filter(function (g) {
        return G.p.status[g] !== 'in_band' || G.bx1[g] - G.bx0[g] > small || G.by1[g] - G.by0[g] > small;
      }) : grids;
      drawn.outlined = outlined.length;
      var groups = buckets(outlined, function (g) { return G.p.status[g]; });
      Object.keys(groups).forEach(function (s) {
        var st = D.statusStyle[s] || D.statusStyle._other;
        ctx.strokeStyle = st.color; ctx.lineWidth = Math.max(0.6, (s === 'in_band' ? st.weight : Math.min(st.weight, 2.5)) * thin);
        ctx.setLineDash(z >= BUILDING_ZOOM ? dash(st.dashArray) : []);
        strokeList(ctx, G, groups[s], V, true);
      });
      ctx.setLineDash([]);
    }
    var unitList = on.units && z >= UNIT_ZOOM ? drawUnits(ctx, V) : null;
    [['oversize', function (s) { return s === 'oversize_building'; }], ['flags', function (s) { return FLAG_STATUS[s] === 1; }]].forEach(function (o) {
      if (!on[o[0]]) return;
      var list = visible(G, V).filter(function (g) { return o[1](G.p.status[g]); });
      var gs = buckets(list, function (g) { return G.p.status[g]; });
      Object.keys(gs).forEach(function (s) {
        var st = D.statusStyle[s] || D.statusStyle._other;
        ctx.strokeStyle = st.color; ctx.lineWidth = st.weight; ctx.setLineDash(dash(st.dashArray));
        strokeList(ctx, G, gs[s], V, true);
      });
      ctx.setLineDash([]);
    });
    if (on.changed && G.p.chg) {
      var cl = visible(G, V).filter(function (g) { return G.p.chg[g]; });
      var cg = buckets(cl, function (g) { return G.p.chg[g]; });
      ctx.lineWidth = 4; ctx.setLineDash(CHANGE_DASH);
      Object.keys(cg).forEach(function (c) {
        ctx.strokeStyle = CHANGE_COLOUR[c] || '#000';
        strokeList(ctx, G, cg[c], V, true);
      });
      ctx.setLineDash([]);
    }
    if (on.compounds && layers.compounds) {
      var K = layers.compounds, kl = visible(K, V);
      ctx.setLineDash([6, 4]); ctx.lineWidth = 2;
      var kg = buckets(kl, function (f) { return K.p.split[f] ? 1 : 0; });
      Object.keys(kg).forEach(function (s) { ctx.strokeStyle = s === '1' ? '#d95f02' : '#6a3d9a'; strokeList(ctx, K, kg[s], V, true); });
      ctx.setLineDash([]);
    }
    if (on.communities && C) {
      ctx.strokeStyle = 'rgba(17,17,17,0.9)'; ctx.lineWidth = z >= 14 ? 3 : (z >= 12.5 ? 2 : 1.2);
      strokeList(ctx, C, visible(C, V), V, true);
    }
    if (on.barriers && layers.barriers) {
      ctx.strokeStyle = 'rgba(11,87,208,0.8)'; ctx.lineWidth = 3;
      strokeList(ctx, layers.barriers, visible(layers.barriers, V), V, false);
    }
    if (on.centres && layers.centres) {
      var P = layers.centres, pl = visible(P, V);
      drawn.centres = pl.length;
      ctx.beginPath(); pl.forEach(function (f) { trace(ctx, P, f, V, true, 7); });
      ctx.fillStyle = '#c51b7d'; ctx.fill(); ctx.strokeStyle = '#fff'; ctx.lineWidth = 2; ctx.stroke();
    }
    // labels last, grids first: a unit's code never covers its grid's label
    var placer = new Placer();
    if (on.grids && on.labels) drawGridLabels(ctx, V, grids, placer);
    if (unitList && z >= UNIT_LABEL_ZOOM) drawUnitLabels(ctx, V, unitList, placer);
  }

  function drawUnits(ctx, V) {
    var ul = visible(U, V), seen = {}, own = [], shared = [];
    drawn.units = ul.length;
    ul.forEach(function (u) {
      if (U.rs[u + 1] === U.rs[u]) { own.push(u); return; }
      for (var k = U.rs[u]; k < U.rs[u + 1]; k++) { var b = U.ref[k]; if (!seen[b]) { seen[b] = 1; shared.push(b); } }
    });
    ctx.strokeStyle = '#1a1a1a'; ctx.lineWidth = 1.2; ctx.setLineDash([4, 3]);
    strokeList(ctx, B, shared, V, true);
    strokeList(ctx, U, own, V, true);
    ctx.setLineDash([]);
    return ul;
  }

  // ------------------------------------------------------------------ labels
  function Placer() { this.cells = {}; this.size = 64; }
  Placer.prototype.free = function (x0, y0, x1, y1) {
    var s = this.size, i, j, k;
    for (j = Math.floor(y0 / s); j <= Math.floor(y1 / s); j++) {
      for (i = Math.floor(x0 / s); i <= Math.floor(x1 / s); i++) {
        var list = this.cells[i + ',' + j];
        if (!list) continue;
        for (k = 0; k < list.length; k++) {
          var r = list[k];
          if (x0 < r[2] && x1 > r[0] && y0 < r[3] && y1 > r[1]) return false;
        }
      }
    }
    return true;
  };
  Placer.prototype.take = function (x0, y0, x1, y1) {
    var s = this.size, i, j, r = [x0, y0, x1, y1];
    for (j = Math.floor(y0 / s); j <= Math.floor(y1 / s); j++) {
      for (i = Math.floor(x0 / s); i <= Math.floor(x1 / s); i++) (this.cells[i + ',' + j] || (this.cells[i + ',' + j] = [])).push(r);
    }
  };
  var gridText = null, gridOrder = null, gridRank = null, gridFlagged = null;
  function gridLabel(g) {
    if (!gridText) gridText = new Array(G.count);
    if (gridText[g] === undefined) {
      var hh = G.p.hh ? G.p.hh[g] : null;
      gridText[g] = [decode(G.p.code[g]), has(hh) ? decode(fmt(hh)) + (D.locale === 'zh-CN' ? ' \u6237' : ' hh') : ''];
    }
    return gridText[g];
  }
  var FONT_CODE = '600 12px system-ui, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif';
  var FONT_SMALL = '11px system-ui, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif';
  function drawGridLabels(ctx, V, grids, placer) {
    if (!gridOrder) {  // flagged grids first (the ones to check), then the biggest, so they keep their labels when space is short
      gridOrder = new Int32Array(G.count); gridRank = new Int32Array(G.count); gridFlagged = new Uint8Array(G.count);
      var ids = []; for (var i = 0; i < G.count; i++) { ids.push(i); gridFlagged[i] = G.p.status[i] !== 'in_band' ? 1 : 0; }
      ids.sort(function (a, b) { return gridFlagged[b] - gridFlagged[a] || (G.bx1[b] - G.bx0[b]) * (G.by1[b] - G.by0[b]) - (G.bx1[a] - G.bx0[a]) * (G.by1[a] - G.by0[a]) || a - b; });
      ids.forEach(function (g, r) { gridOrder[r] = g; gridRank[g] = r; });
    }
    // a flagged grid (a lone oversize building's, say) is labelled once it shows at all, even where its label overflows it
    var list = grids.filter(function (g) {
      var bw = (G.bx1[g] - G.bx0[g]) * V.sc, bh = (G.by1[g] - G.by0[g]) * V.sc;
      return gridFlagged[g] ? bw > 6 && bh > 6 : bw > 40 && bh > 24;
    });
    list.sort(function (a, b) { return gridRank[a] - gridRank[b]; });
    var n = 0, labelled = [];
    ctx.textAlign = 'center'; ctx.textBaseline = 'middle'; ctx.lineJoin = 'round';
    for (var k = 0; k < list.length; k++) {
      var g = list[k], t = gridLabel(g);
      ctx.font = FONT_CODE; var w1 = ctx.measureText(t[0]).width;
      ctx.font = FONT_SMALL; var w2 = t[1] ? ctx.measureText(t[1]).width : 0;
      var w = Math.max(w1, w2) + 6, h = t[1] ? 30 : 16;
      var x = G.lx[g] * V.sc - V.ox, y = G.ly[g] * V.sc - V.oy;
      var bw = (G.bx1[g] - G.bx0[g]) * V.sc, bh = (G.by1[g] - G.by0[g]) * V.sc;
      if (!gridFlagged[g] && (w > bw * 0.9 || h > bh * 0.8)) continue;  // does not fit inside its grid
      var x0 = x - w / 2, y0 = y - h / 2, x1 = x + w / 2, y1 = y + h / 2;
      if (x1 < 0 || y1 < 0 || x0 > V.w || y0 > V.h) continue;
      if (!placer.free(x0, y0, x1, y1)) continue;
      placer.take(x0, y0, x1, y1);
      ctx.strokeStyle = 'rgba(255,255,255,0.9)'; ctx.lineWidth = 3; ctx.fillStyle = '#111';
      var ty = t[1] ? y - 7 : y;
      ctx.font = FONT_CODE; ctx.strokeText(t[0], x, ty); ctx.fillText(t[0], x, ty);
      if (t[1]) { ctx.font = FONT_SMALL; ctx.strokeText(t[1], x, y + 8); ctx.fillText(t[1], x, y + 8); }
      n++; labelled.push(t[0]);
    }
    drawn.labels = n; drawn.labelled = labelled;
  }
  function unitGroupText(units) {
    var first = decode(U.p.code[units[0]]);
    if (units.length === 1) return first;
    var last = decode(U.p.code[units[units.length - 1]]), common = 0;
    while (common < first.length && first[common] === last[common]) common++;
    var cut = first.lastIndexOf('-', common - 1) + 1;
    return first + '~' + last.slice(cut > 0 ? cut : 0) + ' (' + units.length + ')';
  }
  function drawUnitLabels(ctx, V, ul, placer) {
    // one label per footprint: the units of a tower are one group
    var groups = {}, keys = [];
    ul.forEach(function (u) {
      var key = U.rs[u + 1] > U.rs[u] ? 'b' + U.ref[U.rs[u]] : 'u' + u;
      if (!groups[key]) { groups[key] = []; keys.push(key); }
      groups[key].push(u);
    });
    ctx.font = FONT_SMALL; ctx.textAlign = 'center'; ctx.textBaseline = 'middle';
    keys.forEach(function (key) {
      var us = groups[key].sort(function (a, b) { return a - b; }), u = us[0], text = unitGroupText(us);
      var x = (U.bx0[u] + U.bx1[u]) / 2 * V.sc - V.ox, y = (U.by0[u] + U.by1[u]) / 2 * V.sc - V.oy;
      var w = ctx.measureText(text).width + 4, h = 14;
      if (!placer.free(x - w / 2, y - h / 2, x + w / 2, y + h / 2)) return;
      placer.take(x - w / 2, y - h / 2, x + w / 2, y + h / 2);
      ctx.strokeStyle = 'rgba(255,255,255,0.9)'; ctx.lineWidth = 3; ctx.strokeText(text, x, y);
      ctx.fillStyle = U.p.ib && U.p.ib[u] === 0 ? '#b00' : '#222'; ctx.fillText(text, x, y);
    });
  }

  // ------------------------------------------------------------------ highlights (a canvas of their own)
  var hovered = null, highlighted = null;
  function drawTop(ctx, V) {
    if (highlighted && highlighted.length) {
      ctx.strokeStyle = '#0050ff'; ctx.lineWidth = 3;
      strokeList(ctx, B, highlighted.filter(function (b) {
        return !(B.bx1[b] < V.x0 || B.bx0[b] > V.x1 || B.by1[b] < V.y0 || B.by0[b] > V.y1);
      }), V, true);
    }
    if (hovered) {
      ctx.strokeStyle = '#000'; ctx.lineWidth = hovered.layer === G ? 2.5 : 2;
      ctx.beginPath(); trace(ctx, hovered.layer, hovered.i, V, hovered.layer.kind !== 'line', 7); ctx.stroke();
    }
  }

  var scene = new Scene({pane: pane('gg-scene', 410), draw: drawScene});
  var top = new Scene({pane: pane('gg-top', 450), draw: drawTop, padding: 0.3});

  // ------------------------------------------------------------------ hit testing, tooltips, popups
  function worldOf(latlng) { return map.project(latlng, 0); }
  function hit(latlng) {
    var w = worldOf(latlng), z = map.getZoom(), sc = Math.pow(2, z), tol = 4 / sc, found = null;
    function first(L, test) {
      if (!L) return null;
      var out = null;
      query(L, w.x - tol, w.y - tol, w.x + tol, w.y + tol, function (f) { if (out === null && test(L, f)) out = f; });
      return out === null ? null : {layer: L, i: out};
    }
    function inside(L, f) {
      if (L.rv[L.pr[L.fp[f]] + 1] - L.rv[L.pr[L.fp[f]]] === 1) {  // a point
        var k = L.rv[L.pr[L.fp[f]]];
        return Math.abs(L.X[k] - w.x) * sc < 8 && Math.abs(L.Y[k] - w.y) * sc < 8;
      }
      return pointInFeature(L, f, w.x, w.y);
    }
    if (on.centres) found = first(layers.centres, inside);
    if (!found && on.buildings && z >= BUILDING_ZOOM) found = first(B, inside);
    if (!found && on.unassigned) found = first(layers.unassigned, inside);
    if (!found && on.grids) found = first(G, inside);
    if (found && on.compounds) {
      var k2 = first(layers.compounds, inside);
      if (k2) found.compound = k2.i;
    }
    return found;
  }
  function hhText(L, i) {
    var est = L.p.est && L.p.est[i];
    return fmt(L.p.hh ? L.p.hh[i] : null) + (est ? ' (' + T.estimated + ')' : '');
  }
  function walkText(i) {
    var t = fmt(G.p.walk[i], 1) + (G.p.straight && G.p.straight[i] ? ' (' + T.walk_straight + ')' : '');
    return G.p.cf && G.p.cf[i] ? '<b class="gg-flag">' + t + ' &gt; ' + fmt(D.walkLimit, 0) + '</b>' : t;
  }
  function statusText(i) {
    var s = G.p.status[i];
    return s === '_other' ? (col(G, 'status_text', i) || '') : T.status_words[s];
  }
  function unitsOf(b, limit) {
    var a = B.us[b], e = B.us[b + 1], out = [];
    for (var k = a; k < e && out.length < limit; k++) out.push(U.p.code[B.ul[k]]);
    var more = e - a - out.length;
    return out.join(', ') + (more > 0 ? ' \u2026 ' + T.more.replace('{n}', fmt(more)) : '');
  }
  function tipHtml(h) {
    var L = h.layer, i = h.i, out = '';
    if (L === G) {
      out = '<b>' + G.p.code[i] + '</b>' + (G.p.community && G.p.community[i] ? '<br>' + G.p.community[i] : '') +
        '<br>' + T.households + ': ' + hhText(G, i) +
        (G.p.status[i] !== 'in_band' ? '<br>' + T.status + ': ' + statusText(i) : '') +
        (G.p.walk && has(G.p.walk[i]) ? '<br>' + T.walk_min + ': ' + walkText(i) : '');
    } else if (L === B) {
      var g = B.p.g[i];
      out = '<b>' + (B.p.code[i] || '') + '</b>' + (B.p.id && B.p.id[i] ? '<br>' + T.building_id + ': ' + B.p.id[i] : '') +
        '<br>' + T.grid_code + ': ' + (g >= 0 ? G.p.code[g] : '\u2014') + '<br>' + T.households + ': ' + hhText(B, i) +
        (B.us[i + 1] > B.us[i] ? '<br>' + T.unit_codes + ': ' + unitsOf(i, 6) : '');
    } else if (L === layers.unassigned) {
      out = (L.p.id[i] ? '<b>' + L.p.id[i] + '</b><br>' : '') + (L.p.reason[i] || '');
    } else if (L === layers.centres) {
      out = '<b>' + (L.p.name[i] || L.p.id[i]) + '</b>';
    }
    if (has(h.compound)) {
      var K = layers.compounds;
      out += '<br>' + T.compound_name + ': ' + K.p.name[h.compound] + ' (' + fmt(K.p.hh[h.compound]) + ')';
    }
    return out;
  }
  function gridPopup(i) {
    var p = function (k) { return col(G, k, i); };
    return '<div class="gg-popup"><table>' +
      row(T.grid_code, '<b>' + p('code') + '</b>') + (p('std') ? row(T.standard_code, p('std')) : '') +
      (p('fac') ? row(T.facility_type, p('fac')) : '') + (p('chg') ? row(T.change, '<b class="gg-flag">' + T['change_' + p('chg')] + '</b>') : '') +
      row(T.community, p('community')) + row(T.households, hhText(G, i)) +
      row(T.n_buildings, fmt(p('nb'))) + row(T.n_units, fmt(p('nu'))) + row(T.area_m2, fmt(p('area'))) +
      row(T.polsby_popper, fmt(p('pp'), 3)) + row(T.status, statusText(i)) + row(T.reason, p('reason')) +
      (p('bx') ? row(T.barrier_crossings, fmt(p('bx'))) : '') +
      (has(p('helpers')) ? row(T.helpers_n, '1+1+1+' + fmt(p('helpers'))) : '') +
      (has(p('tour')) ? row(T.tour_m, fmt(p('tour'))) : '') +
      (has(p('wi')) ? row(T.workload_index, fmt(p('wi'), 2) + (p('wf') ? ' <b class="gg-flag">' + T.workload_high + '</b>' : '')) : '') +
      (has(p('walk')) ? row(T.centre, p('centre')) + row(T.walk_min, walkText(i)) : '') +
      '</table></div>';
  }
  function centrePopup(i) {
    var P = layers.centres;
    return '<div class="gg-popup"><b>' + T.service_centres + '</b><table>' + row(T.centre_id, P.p.id[i]) + row(T.centre_name, P.p.name[i]) +
      (has(P.p.n[i]) ? row(T.grids_served, fmt(P.p.n[i])) : '') + '</table></div>';
  }
  // a phone: panels start folded, and a popup fits the screen and opens clear of the search box and flagged list
  var NARROW = window.innerWidth < 640;
  var popup = L.popup({maxWidth: Math.min(380, window.innerWidth - 50), autoPanPaddingTopLeft: L.point(10, NARROW ? 100 : 20),
                       autoPanPaddingBottomRight: L.point(10, 20)});
  function openGridPopup(g, latlng) {
    popup.setLatLng(latlng || centreOf(G, g)).setContent(gridPopup(g)).openOn(map);
  }

  var tip = L.DomUtil.create('div', 'gg-tip', map.getContainer());
  tip.style.display = 'none';
  var pending = null, frame = 0;
  function showTip(e) {
    var h = hit(e.latlng);
    var same = h && hovered && h.layer === hovered.layer && h.i === hovered.i;
    if (!h) {
      tip.style.display = 'none'; map.getContainer().style.cursor = '';
      if (hovered) { hovered = null; top.redraw(); }
      return;
    }
    if (!same || h.compound !== hovered.compound) { tip.innerHTML = tipHtml(h); }
    var size = map.getSize(), x = e.containerPoint.x + 14, y = e.containerPoint.y + 14;
    tip.style.display = 'block';
    if (x + tip.offsetWidth > size.x) x = e.containerPoint.x - tip.offsetWidth - 10;
    if (y + tip.offsetHeight > size.y) y = e.containerPoint.y - tip.offsetHeight - 10;
    tip.style.left = x + 'px'; tip.style.top = y + 'px';
    if (!same) { hovered = h; top.redraw(); }
    map.getContainer().style.cursor = 'pointer';
  }
  map.on('mousemove', function (e) {
    pending = e;
    if (!frame) frame = L.Util.requestAnimFrame(function () { frame = 0; if (pending) showTip(pending); });
  });
  map.on('mouseout movestart zoomstart', function () {
    pending = null; tip.style.display = 'none'; map.getContainer().style.cursor = '';
    if (hovered) { hovered = null; top.redraw(); }
  });

  var buildingHandlers = [], gridHandlers = [];
  function callHandlers(list, code, e) {
    var keep = true;
    list.slice().forEach(function (fn) { if (fn(code, e) === false) keep = false; });
    return keep;
  }
  function editing() { return !!(api.edit && typeof api.edit.active === 'function' && api.edit.active()); }
  map.on('click', function (e) {
    var h = hit(e.latlng);
    if (!h) return;
    if (editing()) {  // the edit mode owns the clicks: no popups, the event goes no further
      if (h.layer === B) callHandlers(buildingHandlers, decode(B.p.code[h.i]), e);
      else if (h.layer === G) callHandlers(gridHandlers, decode(G.p.code[h.i]), e);
      if (e.originalEvent) L.DomEvent.stop(e.originalEvent);
      return;
    }
    if (h.layer === layers.centres) { popup.setLatLng(e.latlng).setContent(centrePopup(h.i)).openOn(map); return; }
    if (h.layer === B) {
      if (!callHandlers(buildingHandlers, decode(B.p.code[h.i]), e)) return;
      var g = B.p.g[h.i];
      if (g >= 0) openGridPopup(g, e.latlng);
      return;
    }
    if (h.layer === G) {
      if (!callHandlers(gridHandlers, decode(G.p.code[h.i]), e)) return;
      openGridPopup(h.i, e.latlng);
    }
  });

  // ------------------------------------------------------------------ zooming to things
  function boundsOf(L, i) {
    var ne = map.unproject([L.bx1[i], L.by0[i]], 0), sw = map.unproject([L.bx0[i], L.by1[i]], 0);
    return window.L.latLngBounds(sw, ne);
  }
  function centreOf(L, i) {
    if (L.lx) return map.unproject([L.lx[i], L.ly[i]], 0);
    return map.unproject([(L.bx0[i] + L.bx1[i]) / 2, (L.by0[i] + L.by1[i]) / 2], 0);
  }
  function zoomTo(L, i, maxZoom) {
    if (!(L.bx0[i] <= L.bx1[i])) return;
    map.fitBounds(boundsOf(L, i), {padding: [40, 40], maxZoom: maxZoom || 18, animate: false});
  }

  // ------------------------------------------------------------------ search
  var searchIndex = null;
  function buildSearch() {
    if (searchIndex) return searchIndex;
    var keys = [], refs = [], exact = new Map();
    function add(text, kind, i) {
      var key = decode(text).trim().toLowerCase();
      if (!key) return;
      keys.push(key); refs.push([kind, i]);
      if (!exact.has(key)) exact.set(key, []);
      exact.get(key).push(refs.length - 1);
    }
    var i;
    for (i = 0; i < G.count; i++) add(G.p.code[i], 'grid', i);
    for (i = 0; i < C.count; i++) {
      add(C.p.code[i], 'community', i);
      ['name', 'id', 'nm'].forEach(function (k) { if (C.p[k]) add(C.p[k][i], 'community', i); });
    }
    for (i = 0; i < B.count; i++) { add(B.p.code[i], 'building', i); if (B.p.id) add(B.p.id[i], 'building', i); }
    searchIndex = {keys: keys, refs: refs, exact: exact};
    return searchIndex;
  }
  var KIND_LAYER = {grid: 'grids', community: 'communities', building: 'buildings'};
  function search(text, limit) {
    var q = String(text === null || text === undefined ? '' : text).trim().toLowerCase();
    if (!q) return [];
    var I = buildSearch(), out = [], seen = {};
    function push(r) {
      var ref = I.refs[r], id = ref[0] + ':' + ref[1];
      if (seen[id]) return;
      seen[id] = 1; out.push({kind: ref[0], i: ref[1], key: I.keys[r]});
    }
    (I.exact.get(q) || []).forEach(push);
    var starts = [], contains = [];
    for (var r = 0; r < I.keys.length && starts.length < limit; r++) {
      var at = I.keys[r].indexOf(q);
      if (at === 0) starts.push(r); else if (at > 0 && contains.length < limit) contains.push(r);
    }
    starts.forEach(push); contains.forEach(push);
    return out.slice(0, limit);
  }
  function codeOf(m) {
    var L = layers[KIND_LAYER[m.kind]];
    return decode(L.p.code[m.i]);
  }
  function goTo(m) {
    var L = layers[KIND_LAYER[m.kind]];
    if (m.kind === 'grid') { zoomTo(G, m.i, 17); openGridPopup(m.i); }
    else if (m.kind === 'building') { zoomTo(B, m.i, 18); hovered = {layer: B, i: m.i}; top.redraw(); }
    else zoomTo(L, m.i, 17);
  }
  function find(text) {
    var found = search(text, 50), codes = [], seen = {};
    found.forEach(function (m) { var c = codeOf(m); if (!seen[c]) { seen[c] = 1; codes.push(c); } });
    if (found.length) goTo(found[0]);
    return codes;
  }
  function kindWord(kind) { return {grid: T.grids, building: T.buildings, community: T.community}[kind]; }
  function suggestionHtml(m) {
    var L = layers[KIND_LAYER[m.kind]], i = m.i, extra = '';
    if (m.kind === 'grid') extra = (G.p.community && G.p.community[i]) || '';
    else if (m.kind === 'community') extra = (C.p.name && C.p.name[i]) || '';
    else if (m.kind === 'building') extra = (B.p.id && B.p.id[i]) || '';
    return '<span class="gg-kind">' + kindWord(m.kind) + '</span><b>' + L.p.code[i] + '</b>' + (extra ? ' ' + extra : '');
  }
  var Search = L.Control.extend({options: {position: 'topleft'}, onAdd: function () {
    var div = L.DomUtil.create('div', 'gg-box gg-search');
    var input = L.DomUtil.create('input', '', div);
    input.type = 'search'; input.placeholder = decode(T.search); input.setAttribute('aria-label', decode(T.search));
    input.setAttribute('autocomplete', 'off');
    var button = L.DomUtil.create('button', '', div); button.type = 'button'; button.textContent = decode(T.search_button);
    var msg = L.DomUtil.create('span', 'gg-msg', div);
    var list = L.DomUtil.create('div', 'gg-suggest', div); list.style.display = 'none';
    var matches = [], active = -1;
    function close() { list.style.display = 'none'; list.innerHTML = ''; matches = []; active = -1; }
    function pick(m) { close(); msg.textContent = ''; input.value = codeOf(m); goTo(m); }
    function suggest() {
      matches = search(input.value, 10); active = -1;
      msg.textContent = '';
      if (!matches.length) { close(); return; }
      list.innerHTML = matches.map(function (m, k) { return '<div data-k="' + k + '">' + suggestionHtml(m) + '</div>'; }).join('');
      list.style.display = 'block';
    }
    function go() {
      if (active >= 0 && matches[active]) { pick(matches[active]); return; }
      var found = search(input.value, 1);
      close();
      if (!input.value.trim()) { msg.textContent = ''; return; }
      if (!found.length) { msg.textContent = decode(T.not_found); return; }
      msg.textContent = ''; goTo(found[0]);
    }
    L.DomEvent.on(input, 'input', suggest);
    L.DomEvent.on(input, 'keydown', function (e) {
      if (e.key === 'Enter') { go(); return; }
      if (e.key === 'Escape') { close(); return; }
      if ((e.key === 'ArrowDown' || e.key === 'ArrowUp') && matches.length) {
        active = (active + (e.key === 'ArrowDown' ? 1 : matches.length - 1)) % matches.length;
        Array.prototype.forEach.call(list.children, function (el, k) { el.className = k === active ? 'gg-on' : ''; });
        L.DomEvent.preventDefault(e);
      }
    });
    L.DomEvent.on(list, 'mousedown', function (e) {
      var el = e.target.closest ? e.target.closest('[data-k]') : null;
      if (el) { L.DomEvent.preventDefault(e); pick(matches[+el.getAttribute('data-k')]); }
    });
    L.DomEvent.on(input, 'blur', function () { setTimeout(close, 150); });
    L.DomEvent.on(button, 'click', go);
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    return div;
  }});
  new Search().addTo(map);

  // ------------------------------------------------------------------ flagged grids
  var Flagged = L.Control.extend({options: {position: 'topleft'}, onAdd: function () {
    var div = L.DomUtil.create('div', 'gg-box gg-flagged');
    var flagged = [];
    for (var i = 0; i < G.count; i++) if (G.p.status[i] !== 'in_band') flagged.push(i);
    var head = L.DomUtil.create('button', 'gg-head', div); head.type = 'button';
    head.innerHTML = (flagged.length ? '\u25b8 ' : '') + T.flagged + ' (' + fmt(flagged.length) + ')';
    var list = L.DomUtil.create('div', 'gg-list', div); list.style.display = 'none';
    var built = false;
    function build() {
      var by = {}, html = [];
      flagged.forEach(function (g) { (by[G.p.status[g]] || (by[G.p.status[g]] = [])).push(g); });
      FLAGGED_ORDER.concat(Object.keys(by).filter(function (s) { return FLAGGED_ORDER.indexOf(s) < 0; })).forEach(function (s) {
        if (!by[s]) return;
        var st = D.statusStyle[s] || D.statusStyle._other;
        html.push('<h5>' + (T.status_words[s] || T.other_status) + ' (' + fmt(by[s].length) + ')</h5>');
        by[s].forEach(function (g) {
          html.push('<div class="gg-frow" data-g="' + g + '" style="border-left-color:' + st.color + '"><b>' + G.p.code[g] + '</b> ' +
            fmt(G.p.hh ? G.p.hh[g] : null) + ' ' + (G.p.reason && G.p.reason[g] ? '<span class="gg-reason">' + G.p.reason[g] + '</span>' : '') + '</div>');
        });
      });
      list.innerHTML = html.join('') || T.none_flagged;
      built = true;
    }
    L.DomEvent.on(head, 'click', function () {
      if (!flagged.length) return;
      if (!built) build();
      var open = list.style.display === 'none';
      list.style.display = open ? 'block' : 'none';
      head.innerHTML = (open ? '\u25be ' : '\u25b8 ') + T.flagged + ' (' + fmt(flagged.length) + ')';
    });
    L.DomEvent.on(list, 'click', function (e) {
      var el = e.target.closest ? e.target.closest('[data-g]') : null;
      if (!el) return;
      var g = +el.getAttribute('data-g');
      zoomTo(G, g, 17); openGridPopup(g);
    });
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    return div;
  }});
  new Flagged().addTo(map);

  // ------------------------------------------------------------------ layer switches, legend, title
  var Toggle = L.Layer.extend({
    initialize: function (key) { this.key = key; },
    onAdd: function () { on[this.key] = true; scene.redraw(); return this; },
    onRemove: function () { on[this.key] = false; scene.redraw(); if (hovered) { hovered = null; top.redraw(); } return this; }
  });
  var overlays = {}, toggles = {};
  function toggle(key, label, present) {
    if (!present) { on[key] = false; return; }
    var t = new Toggle(key);
    toggles[key] = t;
    overlays[label] = t;
    if (on[key]) t.addTo(map);
  }
  var anyFlag = function (key) { return G.p[key] ? G.p[key].some(function (v) { return v === true; }) : false; };
  var statuses = {};
  G.p.status.forEach(function (s) { statuses[s] = 1; });
  toggle('communities', T.communities, C && C.count > 0);
  toggle('grids', T.grids, true);
  toggle('labels', T.grid_labels, true);
  toggle('buildings', T.buildings, true);
  toggle('units', T.units, U.count > 0);
  toggle('flags', T.flags, Object.keys(FLAG_STATUS).some(function (s) { return statuses[s]; }));
  toggle('oversize', T.oversize, !!statuses.oversize_building);
  toggle('unassigned', T.unassigned, !!layers.unassigned);
  toggle('changed', T.changed_grids, !!(G.p.chg && G.p.chg.some(function (c) { return !!c; })));
  toggle('coverage', T.beyond_walk, anyFlag('cf'));
  toggle('workload', T.high_workload, anyFlag('wf'));
  toggle('barriers', T.barriers, !!layers.barriers);
  toggle('compounds', T.compounds, !!layers.compounds);
  toggle('centres', T.service_centres, !!layers.centres);
  var baseLayers = {}; baseLayers[D.basemap.name] = base;

  var Legend = L.Control.extend({options: {position: 'bottomright'}, onAdd: function () {
    var div = L.DomUtil.create('div', 'gg-box gg-legend');
    var h = '<h4>' + T.legend + '</h4>';
    var shown = ['in_band', 'oversize_building', 'infeasible_total', 'detached_part', 'dedicated', 'out_of_band'];
    if (G.p.status.indexOf('edited_split') >= 0) shown.push('edited_split');  // only plans a planner's edits left in pieces
    shown.forEach(function (s) {
      var st = D.statusStyle[s];
      h += '<div><span class="gg-sw" style="border:' + Math.min(st.weight, 4) + 'px ' + (st.dashArray ? 'dashed' : 'solid') +
        ' ' + st.color + '"></span><span><b>' + T.status_words[s] + '</b> \u2014 ' + T.status_meaning[s] + '</span></div>';
    });
    h += '<div><span class="gg-sw" style="border:3px solid #111;background:none"></span><span>' + T.communities + '</span></div>';
    h += '<div><span class="gg-sw" style="border:1px dashed #1a1a1a;background:none"></span><span>' + T.units + '</span></div>';
    if (toggles.changed) ['added', 'reshaped', 'modified'].forEach(function (c) {
      if (G.p.chg.indexOf(c) < 0) return;
      h += '<div><span class="gg-sw" style="border:3px dashed ' + CHANGE_COLOUR[c] + ';background:none"></span><span>' + T.change + ': ' + T['change_' + c] + '</span></div>';
    });
    if (toggles.coverage) h += '<div><span class="gg-sw" style="background:repeating-linear-gradient(45deg,#c51b7d 0 3px,transparent 3px 7px)"></span><span>' + T.beyond_walk + '</span></div>';
    if (toggles.workload) h += '<div><span class="gg-sw" style="background:radial-gradient(#08306b 1.5px,transparent 2px) 0 0/6px 6px"></span><span>' + T.high_workload + '</span></div>';
    if (toggles.centres) h += '<div><span class="gg-sw" style="width:12px;height:12px;border-radius:50%;border:2px solid #fff;background:#c51b7d;box-shadow:0 0 0 1px #999"></span><span>' + T.service_centres + '</span></div>';
    h += '<div class="gg-note">' + D.palette.slice(0, 6).map(function (c) {
      return '<span class="gg-sw" style="width:10px;background:' + c + '"></span>'; }).join('') + ' ' + T.fill_note + '</div>';
    h += '<div class="gg-hint" id="gg-hint">' + T.zoom_hint + '</div>';
    div.innerHTML = h;
    // the title folds the legend away (folded from the start on a phone, where it would cover half the map)
    var head = div.querySelector('h4');
    head.className = 'gg-fold';
    head.setAttribute('role', 'button');
    L.DomEvent.on(head, 'click', function () { L.DomUtil.hasClass(div, 'gg-folded') ? L.DomUtil.removeClass(div, 'gg-folded') : L.DomUtil.addClass(div, 'gg-folded'); });
    if (NARROW) L.DomUtil.addClass(div, 'gg-folded');
    L.DomEvent.disableClickPropagation(div);
    return div;
  }});
  var legend = new Legend().addTo(map);
  map.on('popupopen', function () { if (NARROW) L.DomUtil.addClass(legend.getContainer(), 'gg-folded'); });
  var Title = L.Control.extend({options: {position: 'bottomleft'}, onAdd: function () {
    var div = L.DomUtil.create('div', 'gg-box gg-title'); div.innerHTML = D.title; return div;
  }});
  new Title().addTo(map);
  function hint() {
    var el = document.getElementById('gg-hint');
    if (el) el.style.display = map.getZoom() < BUILDING_ZOOM ? '' : 'none';
  }
  map.on('zoomend', hint);

  // ------------------------------------------------------------------ the contract (see gridgeo/maps.py)
  function buildingIndexOf(code) {
    if (!B.byCode) { B.byCode = new Map(); for (var i = 0; i < B.count; i++) B.byCode.set(decode(B.p.code[i]), i); }
    var i2 = B.byCode.get(String(code));
    return i2 === undefined ? -1 : i2;
  }
  function gridIndexOf(code) {
    if (!G.byCode) { G.byCode = new Map(); for (var i = 0; i < G.count; i++) G.byCode.set(decode(G.p.code[i]), i); }
    var i2 = G.byCode.get(String(code));
    return i2 === undefined ? -1 : i2;
  }
  function control(position) {
    var Panel = L.Control.extend({options: {position: position || 'topright'}, onAdd: function () {
      var div = L.DomUtil.create('div', 'gg-box gg-panel');
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    }});
    var c = new Panel().addTo(map);
    return c.getContainer();
  }
  api.stats = function () { return {grids: G.count, buildings: B.count, units: U.count}; };
  api.find = find;
  api.drawn = function () { var out = {zoom: map.getZoom()}; Object.keys(drawn).forEach(function (k) { out[k] = drawn[k]; }); return out; };
  api.view = {
    map: map,
    onBuildingClick: function (fn) { buildingHandlers.push(fn); return function () { buildingHandlers.splice(buildingHandlers.indexOf(fn), 1); }; },
    onGridClick: function (fn) { gridHandlers.push(fn); return function () { gridHandlers.splice(gridHandlers.indexOf(fn), 1); }; },
    setBuildingGrid: function (buildingCode, gridCode) {  // a grid code the plan does not have yet: neutral grey
      var b = buildingIndexOf(buildingCode);
      if (b < 0) return false;
      B.p.g[b] = gridIndexOf(gridCode); scene.redraw();
      return true;
    },
    highlightBuildings: function (codes) {
      highlighted = [];
      (codes || []).forEach(function (c) { var b = buildingIndexOf(c); if (b >= 0) highlighted.push(b); });
      top.redraw();
      return highlighted.length;
    },
    clearHighlight: function () { highlighted = null; top.redraw(); },
    buildingsInPolygon: function (latlngs) {
      var pts = (latlngs || []).map(function (ll) { return worldOf(L.latLng(ll)); });
      if (pts.length < 3) return [];
      var xs = pts.map(function (p) { return p.x; }), ys = pts.map(function (p) { return p.y; }), out = [];
      query(B, Math.min.apply(null, xs), Math.min.apply(null, ys), Math.max.apply(null, xs), Math.max.apply(null, ys), function (b) {
        var c = buildingCentroid(b);
        if (pointInRing(xs, ys, c[0], c[1])) out.push(decode(B.p.code[b]));
      });
      return out;
    },
    control: control
  };
  function buildingCentroid(b) {  // of its first ring (area-weighted), else of its box
    if (B.fp[b + 1] === B.fp[b]) return [NaN, NaN];
    var r = B.pr[B.fp[b]], a = B.rv[r], e = B.rv[r + 1], area = 0, cx = 0, cy = 0, x0 = B.X[a], y0 = B.Y[a];
    for (var k = a, m = e - 1; k < e; m = k++) {  // relative to the first vertex: no cancellation
      var xm = B.X[m] - x0, ym = B.Y[m] - y0, xk = B.X[k] - x0, yk = B.Y[k] - y0, cross = xm * yk - xk * ym;
      area += cross; cx += (xm + xk) * cross; cy += (ym + yk) * cross;
    }
    if (!(Math.abs(area) > 0)) return [(B.bx0[b] + B.bx1[b]) / 2, (B.by0[b] + B.by1[b]) / 2];
    return [x0 + cx / (3 * area), y0 + cy / (3 * area)];
  }

  // ------------------------------------------------------------------ first view
  try {
    if (D.bounds) {
      // keep the data clear of the legend when the window is wide enough
      var size = map.getSize(), box = legend.getContainer().getBoundingClientRect();
      var right = size.x > 3 * box.width ? box.width + 20 : 20;
      map.fitBounds(D.bounds, {paddingTopLeft: [50, 50], paddingBottomRight: [right, 30], animate: false});
    } else {
      map.setView([0, 0], 2);
    }
    L.control.layers(baseLayers, overlays, {collapsed: NARROW, position: 'topright'}).addTo(map);
    scene.addTo(map);
    top.addTo(map);
    hint();
    L.Util.requestAnimFrame(function () { L.Util.requestAnimFrame(function () { resolveReady(api.stats()); }); });
  } catch (err) {
    rejectReady(err);
    throw err;
  }
})();
