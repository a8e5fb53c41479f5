/* gridgeo edit mode: review a plan in map.html, move buildings between grids, lock grids,
 * and export the edits.csv that `gridgeo apply-edits` reads.  Offline: no network, no eval.
 *
 * Reads window.gridgeo.editModel, or the JSON block #gg-edit-model (gridgeo.outputs.editmodel.edit_model / edit_html),
 * and installs window.gridgeo.edit.
 * When window.gridgeo.view (the map's view hooks) is present, it also adds the edit panel:
 *   view.map                          the Leaflet map
 *   view.onBuildingClick(fn)          fn(buildingCode, event)
 *   view.onGridClick(fn)              fn(gridCode, event)
 *   view.setBuildingGrid(code, grid)  draw a building in another grid
 *   view.highlightBuildings(codes)    view.clearHighlight()
 *   view.buildingsInPolygon(latlngs)  the building codes inside a polygon
 *   view.control(position)            a DOM element for the panel
 * Every text from the data is written with textContent.
 */
(function () {
  'use strict';
  var root = (window.gridgeo = window.gridgeo || {});
  var model = root.editModel;
  if (!model) {  // the model as a JSON block of the page (gridgeo.outputs.editmodel.edit_html)
    var block = document.getElementById('gg-edit-model');
    if (block) { model = root.editModel = JSON.parse(block.textContent); }
  }
  if (!model || !model.grids || !model.buildings) { return; }

  var TEXT = {
    en: {
      edit: 'Edit', editing: 'Editing', title: 'Edit grids', selected: 'Selected', building: 'building', buildings: 'buildings', households: 'households',
      target: 'Target grid', move: 'Move', lasso: 'Lasso', finish: 'Finish lasso', cancel: 'Cancel', clear: 'Clear selection',
      undo: 'Undo', redo: 'Redo', lock: 'Lock', unlock: 'Unlock', download: 'Download edits.csv', load: 'Load edits.csv', reset: 'Discard all edits',
      band: 'Band', touched: 'Grids touched by the edits', preview: 'If moved', list: 'Edits', none: 'No edits yet.',
      grid: 'grid', hh: 'households', nb: 'buildings', status: 'status', piece: 'one piece',
      in: 'in band', below: 'below', above: 'above', yes: 'yes', no: 'no', unknown: '?', empty: 'empty (retired by apply-edits)',
      lasso_help: 'Click the map to draw the lasso, then "Finish lasso".', pick_help: 'Click buildings to select them; click a grid (or type its code) for the target.',
      moved: 'moved', locked: 'locked', unlocked: 'unlocked', loaded: 'loaded', pinned: 'pinned',
      unknown_building: 'unknown building code {0}', unknown_grid: 'grid code {0} is neither a grid of the plan nor a new code <community>-<number> of one of its communities',
      not_next: 'grid code {0} is not a grid of community {1}, and a new grid takes the community\'s next free number: the next free grid code in community {1} is {2}',
      retired: 'grid code {0} was retired and is never reused', foreign: 'building {0} of community {1} cannot move to grid {2} of community {3}: every grid belongs to exactly one community',
      locked_grid: 'grid {0} is locked: unlock it before moving buildings in or out', no_buildings: 'no building given', no_target: 'no target grid: click a grid or type its code',
      already: 'every building given is already in grid {0}', not_locked: 'grid {0} is not locked', already_locked: 'grid {0} is already locked',
      lock_unknown: 'cannot lock unknown grid {0}', nothing_undo: 'nothing to undo', nothing_redo: 'nothing to redo',
      csv_header: 'the file has no columns building_code and grid_code (found: {0})', csv_action: 'line {0}: unknown action {1} (use move, lock or unlock)',
      csv_move: 'line {0}: a move without building_code', csv_grid: 'line {0}: no grid_code', csv_lockb: 'line {0}: lock and unlock apply to whole grids, leave building_code empty',
      csv_twice: 'line {0}: building {1} is sent to {2} but also to {3}', csv_line: 'line {0}: {1}', both: 'grid {0} is both locked and unlocked',
      storage: 'the edits could not be saved in this browser (localStorage): {0}', restored: 'Edits of this plan restored from this browser.',
      no_adjacency: '"One piece" shows "?": this map was written without the building adjacency, which would slow down every run. For that check, write a review map: gridgeo map PLAN_DIR --edit'
    },
    zh: {
      edit: '编辑', editing: '编辑中', title: '调整网格', selected: '已选', building: '栋建筑', buildings: '栋建筑', households: '户',
      target: '目标网格', move: '移入', lasso: '套索', finish: '完成套索', cancel: '取消', clear: '清除选择',
      undo: '撤销', redo: '重做', lock: '锁定', unlock: '解锁', download: '下载 edits.csv', load: '载入 edits.csv', reset: '放弃全部调整',
      band: '户数区间', touched: '涉及的网格', preview: '若移入', list: '调整记录', none: '尚无调整。',
      grid: '网格', hh: '户数', nb: '建筑数', status: '状态', piece: '连成一片',
      in: '区间内', below: '偏少', above: '偏多', yes: '是', no: '否', unknown: '?', empty: '已空（apply-edits 将撤销该网格）',
      lasso_help: '在地图上点击画出套索，然后点“完成套索”。', pick_help: '点击建筑进行选择；点击网格（或输入编码）作为目标。',
      moved: '移动', locked: '锁定', unlocked: '解锁', loaded: '载入', pinned: '指定',
      unknown_building: '未知建筑编码 {0}', unknown_grid: '网格编码 {0} 既不是本方案的网格，也不是某社区的新编码 <社区>-<序号>',
      not_next: '网格编码 {0} 不是社区 {1} 的网格；新网格须用该社区下一个空闲编号：社区 {1} 的下一个空闲网格编码是 {2}',
      retired: '网格编码 {0} 已撤销，不再使用', foreign: '建筑 {0} 属于社区 {1}，不能移入社区 {3} 的网格 {2}：每个网格只属于一个社区',
      locked_grid: '网格 {0} 已锁定：先解锁才能移入或移出建筑', no_buildings: '未给出建筑', no_target: '未给出目标网格：点击网格或输入其编码',
      already: '所给建筑都已在网格 {0} 中', not_locked: '网格 {0} 未锁定', already_locked: '网格 {0} 已锁定',
      lock_unknown: '不能锁定未知网格 {0}', nothing_undo: '没有可撤销的调整', nothing_redo: '没有可重做的调整',
      csv_header: '文件缺少 building_code 和 grid_code 列（现有：{0}）', csv_action: '第 {0} 行：未知操作 {1}（用 move、lock 或 unlock）',
      csv_move: '第 {0} 行：移动缺少 building_code', csv_grid: '第 {0} 行：缺少 grid_code', csv_lockb: '第 {0} 行：锁定和解锁针对整个网格，building_code 应留空',
      csv_twice: '第 {0} 行：建筑 {1} 移入 {2}，又移入 {3}', csv_line: '第 {0} 行：{1}', both: '网格 {0} 既锁定又解锁',
      storage: '调整无法保存在本浏览器（localStorage）：{0}', restored: '已从本浏览器恢复本方案的调整。',
      no_adjacency: '“连成一片”显示“?”：本图未包含建筑之间的邻接关系（计算较慢，默认不算，以免拖慢每次运行）。需要这项检查时，生成审阅图：gridgeo map 方案目录 --edit'
    }
  };
  var T = TEXT[model.lang] || TEXT.zh;
  function say(key) {
    var args = Array.prototype.slice.call(arguments, 1);
    return String(T[key]).replace(/\{(\d)\}/g, function (_, i) { return String(args[+i]); });
  }

  // ---- the run, indexed -----------------------------------------------------------------------
  var G = model.grids, B = model.buildings, C = model.communities;
  var band = [Number(model.band[0]), Number(model.band[1])];
  var nB = B.code.length;
  var gridIdx = Object.create(null), buildingIdx = Object.create(null), communityIdx = Object.create(null);
  G.code.forEach(function (code, i) { gridIdx[code] = i; });
  B.code.forEach(function (code, i) { buildingIdx[code] = i; });
  C.code.forEach(function (code, i) { communityIdx[code] = i; });
  var retired = Object.create(null);
  (model.retired_grids || []).forEach(function (code) { retired[code] = true; });
  var baseLocked = Object.create(null);
  (model.locked_grids || []).forEach(function (code) { baseLocked[code] = true; });
  var baseGrid = new Array(nB);
  var baseMembers = G.code.map(function () { return []; });
  for (var b = 0; b < nB; b++) { baseGrid[b] = G.code[B.grid[b]]; baseMembers[B.grid[b]].push(b); }
  // the cell adjacency as CSR arrays
  var adjStart = null, adjList = null;
  if (model.adjacency) {
    var pairs = model.adjacency, degree = new Int32Array(nB + 1);
    for (var p = 0; p < pairs.length; p++) { degree[pairs[p] + 1]++; }
    for (var d = 0; d < nB; d++) { degree[d + 1] += degree[d]; }
    adjStart = degree;
    adjList = new Int32Array(pairs.length);
    var fill = Int32Array.from(degree.subarray(0, nB));
    for (var q = 0; q < pairs.length; q += 2) {
      adjList[fill[pairs[q]]++] = pairs[q + 1];
      adjList[fill[pairs[q + 1]]++] = pairs[q];
    }
  }

  function communityOfGrid(code) {
    if (code in gridIdx) { return C.code[G.community[gridIdx[code]]]; }
    var hit = /^(.+)-(\d+)$/.exec(code);
    if (hit && hit[1] in communityIdx && !retired[code]) { return hit[1]; }
    return null;
  }

  // a new grid takes its community's next free number (after its grids', its retired ones' and `extra`), as apply-edits
  // requires: a typo'd code would otherwise create a grid
  function nextCodes(community, extra, count) {
    var numbers = [];
    G.code.concat(Object.keys(retired), extra).forEach(function (code) {
      var hit = /^(.+)-(\d+)$/.exec(code);
      if (hit && hit[1] === community) { numbers.push(hit[2]); }
    });
    var width = numbers.reduce(function (w, n) { return Math.max(w, n.length); }, 2);
    var top = numbers.reduce(function (m, n) { return Math.max(m, parseInt(n, 10)); }, 0);
    var out = [];
    for (var k = 1; k <= count; k++) { var n = String(top + k); while (n.length < width) { n = '0' + n; } out.push(community + '-' + n); }
    return out;
  }
  // the problems of new grid codes `lines` (code → the first CSV line naming it) that are not the next free numbers
  function notNext(lines) {
    var problems = [], byCommunity = Object.create(null);
    Object.keys(lines).forEach(function (code) { var c = communityOfGrid(code); (byCommunity[c] = byCommunity[c] || []).push(code); });
    Object.keys(byCommunity).sort().forEach(function (community) {
      var codes = byCommunity[community], expected = nextCodes(community, [], codes.length);
      var free = expected.filter(function (code) { return !(code in lines); });
      codes.sort().forEach(function (code) {
        if (expected.indexOf(code) < 0) { problems.push(say('csv_line', lines[code], say('not_next', code, community, free[0]))); }
      });
    });
    return problems;
  }

  // ---- state: the current grid of every moved building, the locks, the history ---------------
  var state = { moved: Object.create(null), locked: Object.assign(Object.create(null), baseLocked), pins: Object.create(null) };
  var done = [], undone = [];
  var listeners = [];
  var attached = null;  // the map's view hooks, once the panel is attached

  function gridOf(b) { return b in state.moved ? state.moved[b] : baseGrid[b]; }
  function isLocked(code) { return !!state.locked[code]; }
  function setGrid(b, code) {
    if (code === baseGrid[b]) { delete state.moved[b]; } else { state.moved[b] = code; }
  }
  function snapshot() {
    return { moved: Object.assign({}, state.moved), locked: Object.keys(state.locked).sort(), pins: Object.keys(state.pins).sort() };
  }
  function restore(snap) {
    state.moved = Object.create(null);
    Object.keys(snap.moved).forEach(function (k) { state.moved[k] = snap.moved[k]; });
    state.locked = Object.create(null);
    snap.locked.forEach(function (g) { state.locked[g] = true; });
    state.pins = Object.create(null);
    snap.pins.forEach(function (k) { state.pins[k] = true; });
  }

  function fail(problems) {
    var error = new Error(problems.join('; '));
    error.problems = problems.slice();
    throw error;
  }

  // the problems of moving building indices `idx` to grid `code`, as apply-edits and the locks see them
  function moveProblems(codes, code, idx) {
    var problems = [];
    var community = code ? communityOfGrid(code) : null;
    if (!code) {
      problems.push(say('no_target'));
    } else if (community === null) {
      problems.push(retired[code] ? say('retired', code) : say('unknown_grid', code));
    } else if (!gridExists(code) && code !== nextCodes(community, inUse(), 1)[0]) {
      problems.push(say('not_next', code, community, nextCodes(community, inUse(), 1)[0]));
    } else if (isLocked(code)) {
      problems.push(say('locked_grid', code));
    }
    codes.forEach(function (bc) {
      var i = buildingIdx[bc];
      if (i === undefined) { problems.push(say('unknown_building', bc)); return; }
      idx.push(i);
      var own = C.code[B.community[i]];
      if (community !== null && own !== community) { problems.push(say('foreign', bc, own, code, community)); }
      var from = gridOf(i);
      if (from !== code && isLocked(from)) { problems.push(say('locked_grid', from)); }
    });
    return problems.filter(function (text, i, all) { return all.indexOf(text) === i; });
  }

  function normalise(codes) {
    if (typeof codes === 'string') { codes = [codes]; }
    if (!codes || typeof codes.length !== 'number') { fail([say('no_buildings')]); }
    var seen = Object.create(null), out = [];
    Array.prototype.forEach.call(codes, function (c) { c = String(c).trim(); if (c && !seen[c]) { seen[c] = true; out.push(c); } });
    if (!out.length) { fail([say('no_buildings')]); }
    return out;
  }

  // ---- operations -----------------------------------------------------------------------------
  function apply(op, forward) {
    if (op.type === 'move') {
      op.buildings.forEach(function (bc, k) { setGrid(buildingIdx[bc], forward ? op.to : op.from[k]); });
    } else if (op.type === 'lock' || op.type === 'unlock') {
      var on = (op.type === 'lock') === forward;
      if (on) { state.locked[op.grid] = true; } else { delete state.locked[op.grid]; }
    } else if (op.type === 'load') {
      restore(forward ? op.after : op.before);
    }
  }

  function commit(op) {
    var before = assignment();
    apply(op, true);
    done.push(op);
    undone = [];
    changed(before);
    return describe(op, done.length);
  }

  function move(codes, gridCode) {
    codes = normalise(codes);
    var code = String(gridCode === undefined || gridCode === null ? '' : gridCode).trim();
    var idx = [];
    var problems = moveProblems(codes, code, idx);
    if (problems.length) { fail(problems); }
    var moving = idx.filter(function (i) { return gridOf(i) !== code; });
    if (!moving.length) { fail([say('already', code)]); }
    return commit({
      type: 'move', to: code,
      buildings: moving.map(function (i) { return B.code[i]; }),
      from: moving.map(function (i) { return gridOf(i); })
    });
  }

  function inUse() { return Object.keys(state.moved).map(function (k) { return state.moved[k]; }); }

  function gridExists(code) {
    if (code in gridIdx) { return true; }
    for (var k in state.moved) { if (state.moved[k] === code) { return true; } }
    return false;
  }

  function lock(gridCode) {
    var code = String(gridCode).trim();
    if (!gridExists(code)) { fail([say('lock_unknown', code)]); }
    if (isLocked(code)) { fail([say('already_locked', code)]); }
    return commit({ type: 'lock', grid: code });
  }

  function unlock(gridCode) {
    var code = String(gridCode).trim();
    if (!isLocked(code)) { fail([say('not_locked', code)]); }
    return commit({ type: 'unlock', grid: code });
  }

  function undo() {
    if (!done.length) { fail([say('nothing_undo')]); }
    var before = assignment(), op = done.pop();
    apply(op, false);
    undone.push(op);
    changed(before);
    return describe(op, done.length + 1);
  }

  function redo() {
    if (!undone.length) { fail([say('nothing_redo')]); }
    var before = assignment(), op = undone.pop();
    apply(op, true);
    done.push(op);
    changed(before);
    return describe(op, done.length);
  }

  function reset() {
    var base = Object.keys(baseLocked).sort();
    if (!Object.keys(state.moved).length && !Object.keys(state.pins).length && Object.keys(state.locked).sort().join('\n') === base.join('\n')) { return null; }
    return commit({ type: 'load', source: 'reset', before: snapshot(), after: { moved: {}, locked: base, pins: [] } });
  }

  function assignment() { return Object.assign({}, state.moved); }

  // ---- what the edits do to the grids --------------------------------------------------------
  function membersOf(code, moved) {
    var out = [];
    if (code in gridIdx) {
      baseMembers[gridIdx[code]].forEach(function (i) { if (!(i in moved) || moved[i] === code) { out.push(i); } });
    }
    Object.keys(moved).forEach(function (k) { if (moved[k] === code && baseGrid[k] !== code) { out.push(+k); } });
    return out;
  }

  function onePiece(members) {
    if (!adjStart) { return null; }
    if (!members.length) { return null; }
    var inside = new Set(members), seen = new Set([members[0]]), stack = [members[0]];
    while (stack.length) {
      var i = stack.pop();
      for (var k = adjStart[i]; k < adjStart[i + 1]; k++) {
        var j = adjList[k];
        if (inside.has(j) && !seen.has(j)) { seen.add(j); stack.push(j); }
      }
    }
    return seen.size === members.length;
  }

  function statusOf(households) { return households < band[0] ? 'below' : households > band[1] ? 'above' : 'in'; }

  function gridSummary(code, moved) {
    var members = membersOf(code, moved), households = 0;
    members.forEach(function (i) { households += B.households[i]; });
    var gi = gridIdx[code];
    return {
      grid_code: code,
      community: communityOfGrid(code),
      community_name: communityOfGrid(code) === null ? '' : C.name[communityIdx[communityOfGrid(code)]],
      households: households,
      households_before: gi === undefined ? 0 : G.households[gi],
      buildings: members.length,
      buildings_before: gi === undefined ? 0 : G.buildings[gi],
      status: statusOf(households),
      one_piece: onePiece(members),
      locked: isLocked(code),
      created: gi === undefined,
      run_status: gi === undefined ? '' : G.status[gi]
    };
  }

  function touchedGrids(moved) {
    var set = Object.create(null);
    Object.keys(moved).forEach(function (k) { set[baseGrid[k]] = true; set[moved[k]] = true; });
    return Object.keys(set).sort();
  }

  function summary() {
    return touchedGrids(state.moved).map(function (code) { return gridSummary(code, state.moved); });
  }

  // the touched grids if `codes` moved to `gridCode` now (nothing is changed)
  function preview(codes, gridCode) {
    codes = normalise(codes);
    var code = String(gridCode).trim(), idx = [];
    var problems = moveProblems(codes, code, idx);
    if (problems.length) { fail(problems); }
    var moved = Object.assign({}, state.moved), touched = Object.create(null);
    idx.forEach(function (i) { touched[gridOf(i)] = true; touched[code] = true; if (code === baseGrid[i]) { delete moved[i]; } else { moved[i] = code; } });
    return Object.keys(touched).sort().map(function (g) { return gridSummary(g, moved); });
  }

  // ---- the edit list and the file -------------------------------------------------------------
  function describe(op, n) {
    var out = { n: n, action: op.type };
    if (op.type === 'move') {
      var hh = 0;
      op.buildings.forEach(function (bc) { hh += B.households[buildingIdx[bc]]; });
      out.buildings = op.buildings.slice();
      out.from = op.from.slice();
      out.to = op.to;
      out.households = hh;
    } else if (op.type === 'lock' || op.type === 'unlock') {
      out.grid = op.grid;
    } else {
      out.action = op.source === 'reset' ? 'reset' : 'load';
      out.moves = Object.keys(op.after.moved).length;
      out.locked = op.after.locked.slice();
    }
    return out;
  }

  function list() { return done.map(function (op, i) { return describe(op, i + 1); }); }

  function field(text) { return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text; }

  function csv() {
    var lines = ['building_code,grid_code,action'];
    var rows = [];
    Object.keys(state.moved).forEach(function (k) { rows.push([B.code[k], state.moved[k]]); });
    Object.keys(state.pins).forEach(function (k) { if (!(k in state.moved)) { rows.push([B.code[k], baseGrid[k]]); } });
    rows.sort(function (a, b) { return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0; });
    rows.forEach(function (r) { lines.push(field(r[0]) + ',' + field(r[1]) + ',move'); });
    Object.keys(state.locked).sort().forEach(function (g) { if (!baseLocked[g]) { lines.push(',' + field(g) + ',lock'); } });
    Object.keys(baseLocked).sort().forEach(function (g) { if (!state.locked[g]) { lines.push(',' + field(g) + ',unlock'); } });
    return lines.join('\n') + '\n';
  }

  function parseCsv(text) {
    text = String(text).replace(/^\ufeff/, '');
    var rows = [], row = [], cell = '', quoted = false, i = 0;
    for (; i < text.length; i++) {
      var ch = text[i];
      if (quoted) {
        if (ch === '"') { if (text[i + 1] === '"') { cell += '"'; i++; } else { quoted = false; } } else { cell += ch; }
      } else if (ch === '"') { quoted = true; }
      else if (ch === ',') { row.push(cell); cell = ''; }
      else if (ch === '\n' || ch === '\r') {
        if (ch === '\r' && text[i + 1] === '\n') { i++; }
        row.push(cell); rows.push(row); row = []; cell = '';
      } else { cell += ch; }
    }
    if (cell !== '' || row.length) { row.push(cell); rows.push(row); }
    return rows.filter(function (r) { return r.length > 1 || r[0].trim() !== ''; });
  }

  // continue a review: the file's edits replace the current ones (one step: undo brings them back)
  function load(text) {
    var rows = parseCsv(text);
    var header = (rows.shift() || []).map(function (h) { return h.trim().toLowerCase(); });
    var cb = header.indexOf('building_code'), cg = header.indexOf('grid_code'), ca = header.indexOf('action');
    if (cb < 0 || cg < 0) { fail([say('csv_header', header.join(', ') || '-')]); }
    var problems = [], moved = Object.create(null), pins = Object.create(null), sentTo = Object.create(null);
    var locks = Object.create(null), unlocks = Object.create(null), newLines = Object.create(null);
    rows.forEach(function (r, k) {
      var line = k + 2;
      var bc = (r[cb] || '').trim(), gc = (r[cg] || '').trim(), action = ca < 0 ? '' : (r[ca] || '').trim().toLowerCase();
      if (action === '') { action = 'move'; }
      if (['move', 'lock', 'unlock'].indexOf(action) < 0) { problems.push(say('csv_action', line, action)); return; }
      if (!gc) { problems.push(say('csv_grid', line)); return; }
      if (action !== 'move') {
        if (bc) { problems.push(say('csv_lockb', line)); return; }
        (action === 'lock' ? locks : unlocks)[gc] = line;
        return;
      }
      if (!bc) { problems.push(say('csv_move', line)); return; }
      var i = buildingIdx[bc];
      if (i === undefined) { problems.push(say('csv_line', line, say('unknown_building', bc))); return; }
      var community = communityOfGrid(gc);
      if (community === null) { problems.push(say('csv_line', line, retired[gc] ? say('retired', gc) : say('unknown_grid', gc))); return; }
      var own = C.code[B.community[i]];
      if (own !== community) { problems.push(say('csv_line', line, say('foreign', bc, own, gc, community))); return; }
      if (bc in sentTo && sentTo[bc] !== gc) { problems.push(say('csv_twice', line, bc, gc, sentTo[bc])); return; }
      sentTo[bc] = gc;
      if (gc === baseGrid[i]) { pins[i] = true; } else { moved[i] = gc; }
      if (!(gc in gridIdx) && !(gc in newLines)) { newLines[gc] = line; }  // a new grid: the first line naming it
    });
    var created = Object.create(null);
    Object.keys(moved).forEach(function (k) { created[moved[k]] = true; });
    problems = problems.concat(notNext(newLines));
    var locked = Object.assign(Object.create(null), baseLocked);
    Object.keys(locks).forEach(function (g) {
      if (!(g in gridIdx) && !created[g]) { problems.push(say('csv_line', locks[g], say('lock_unknown', g))); }
      if (unlocks[g]) { problems.push(say('csv_line', locks[g], say('both', g))); }
      locked[g] = true;
    });
    Object.keys(unlocks).forEach(function (g) {
      if (!baseLocked[g]) { problems.push(say('csv_line', unlocks[g], say('not_locked', g))); }
      delete locked[g];
    });
    if (problems.length) { fail(problems); }
    var after = { moved: {}, locked: Object.keys(locked).sort(), pins: Object.keys(pins).sort() };
    Object.keys(moved).forEach(function (k) { after.moved[k] = moved[k]; });
    return commit({ type: 'load', source: 'file', before: snapshot(), after: after });
  }

  // ---- persistence (localStorage, keyed by the run) --------------------------------------------
  var storageKey = 'gridgeo.edit.' + model.run_key;
  var storageProblem = null;
  function save() {
    try {
      window.localStorage.setItem(storageKey, JSON.stringify({ version: 1, done: done, undone: undone }));
      storageProblem = null;
    } catch (exc) {
      storageProblem = say('storage', exc && exc.message ? exc.message : String(exc));
    }
  }
  function validOp(op) {
    if (!op || typeof op !== 'object') { return false; }
    if (op.type === 'move') {
      return Array.isArray(op.buildings) && Array.isArray(op.from) && op.buildings.length === op.from.length &&
        op.buildings.every(function (bc) { return bc in buildingIdx; }) && typeof op.to === 'string';
    }
    if (op.type === 'lock' || op.type === 'unlock') { return typeof op.grid === 'string'; }
    if (op.type === 'load') {
      return [op.before, op.after].every(function (s) {
        return s && typeof s.moved === 'object' && Array.isArray(s.locked) && Array.isArray(s.pins) &&
          Object.keys(s.moved).every(function (k) { return k >= 0 && k < nB && typeof s.moved[k] === 'string'; });
      });
    }
    return false;
  }
  var restored = false;
  (function () {
    var raw = null;
    try { raw = window.localStorage.getItem(storageKey); } catch (exc) { return; }
    if (!raw) { return; }
    try {
      var saved = JSON.parse(raw);
      if (!saved || saved.version !== 1 || !Array.isArray(saved.done) || !Array.isArray(saved.undone) ||
          !saved.done.every(validOp) || !saved.undone.every(validOp)) { throw new Error('not a saved review of this plan'); }
      saved.done.forEach(function (op) { apply(op, true); });
      done = saved.done;
      undone = saved.undone;
      restored = done.length > 0 || undone.length > 0;
    } catch (exc) {
      if (window.console) { window.console.warn('gridgeo edit mode: the saved edits could not be read and were ignored: ' + exc.message); }
      state = { moved: Object.create(null), locked: Object.assign(Object.create(null), baseLocked), pins: Object.create(null) };
      done = []; undone = [];
    }
  })();

  function changed(before) {
    save();
    var view = attached, after = state.moved;
    if (view && typeof view.setBuildingGrid === 'function') {
      var keys = Object.create(null);
      Object.keys(before).forEach(function (k) { keys[k] = true; });
      Object.keys(after).forEach(function (k) { keys[k] = true; });
      Object.keys(keys).sort(function (a, b) { return a - b; }).forEach(function (k) {
        var was = k in before ? before[k] : baseGrid[k], now = gridOf(+k);
        if (was !== now) { view.setBuildingGrid(B.code[k], now); }
      });
    }
    listeners.forEach(function (fn) { fn(); });
  }

  root.edit = {
    move: move, lock: lock, unlock: unlock, undo: undo, redo: redo, reset: reset,
    summary: summary, preview: preview, csv: csv, load: load, list: list,
    gridOf: function (code) { var i = buildingIdx[code]; return i === undefined ? null : gridOf(i); },
    locked: function () { return Object.keys(state.locked).sort(); },
    canUndo: function () { return done.length > 0; },
    canRedo: function () { return undone.length > 0; },
    storageKey: storageKey,
    onChange: function (fn) { listeners.push(fn); }
  };

  // ---- the panel (only with the map's view hooks) ---------------------------------------------
  root.edit.attach = function (view) {
    if (attached) { return attached === view; }
    if (!view || typeof view.control !== 'function') { return false; }
    attached = view;
    attachPanel(view);
    return true;
  };
  if (root.view) { root.edit.attach(root.view); }

  function attachPanel(view) {

    function el(tag, className, text) {
      var node = document.createElement(tag);
      if (className) { node.className = className; }
      if (text !== undefined) { node.textContent = String(text); }
      return node;
    }
    function button(text, name, onClick) {
      var node = el('button', 'gg-edit-button', text);
      node.type = 'button';
      node.setAttribute('data-edit', name);
      node.addEventListener('click', function (event) { event.preventDefault(); event.stopPropagation(); onClick(); });
      return node;
    }

    var box = view.control('topright');
    box.classList.add('gg-edit');
    var toggle = button(T.edit, 'toggle', function () { setActive(!active); });
    toggle.setAttribute('aria-pressed', 'false');
    var panel = el('div', 'gg-edit-panel');
    panel.hidden = true;
    box.appendChild(toggle);
    box.appendChild(panel);
    ['click', 'dblclick', 'mousedown', 'wheel', 'touchstart'].forEach(function (name) {
      box.addEventListener(name, function (event) { event.stopPropagation(); });
    });

    panel.appendChild(el('h3', 'gg-edit-title', T.title));
    panel.appendChild(el('div', 'gg-edit-band', T.band + ': ' + band[0] + '–' + band[1] + ' ' + T.households));
    var help = el('div', 'gg-edit-help', T.pick_help);
    panel.appendChild(help);
    if (!adjStart) {
      var pieceHint = el('div', 'gg-edit-help gg-edit-hint', T.no_adjacency);
      pieceHint.setAttribute('data-edit', 'piece-hint');
      panel.appendChild(pieceHint);
    }
    var message = el('div', 'gg-edit-message');
    message.setAttribute('role', 'alert');
    message.setAttribute('data-edit', 'message');
    panel.appendChild(message);

    var selectionLine = el('div', 'gg-edit-selection');
    selectionLine.setAttribute('data-edit', 'selection');
    panel.appendChild(selectionLine);
    var row = el('div', 'gg-edit-row');
    var targetLabel = el('label', 'gg-edit-label', T.target + ' ');
    var target = el('input', 'gg-edit-target');
    target.type = 'text';
    target.setAttribute('data-edit', 'target');
    target.setAttribute('list', 'gg-edit-grids');
    target.autocomplete = 'off';
    targetLabel.appendChild(target);
    var datalist = el('datalist');
    datalist.id = 'gg-edit-grids';
    G.code.forEach(function (code) { var option = el('option'); option.value = code; datalist.appendChild(option); });
    row.appendChild(targetLabel);
    row.appendChild(datalist);
    row.appendChild(button(T.move, 'move', doMove));
    panel.appendChild(row);

    var tools = el('div', 'gg-edit-row');
    var lassoButton = button(T.lasso, 'lasso', function () { lassoing ? finishLasso() : startLasso(); });
    tools.appendChild(lassoButton);
    tools.appendChild(button(T.clear, 'clear', function () { select([]); }));
    tools.appendChild(button(T.lock, 'lock', function () { guarded(function () { lock(target.value); }); }));
    tools.appendChild(button(T.unlock, 'unlock', function () { guarded(function () { unlock(target.value); }); }));
    panel.appendChild(tools);

    var history = el('div', 'gg-edit-row');
    var undoButton = button(T.undo, 'undo', function () { guarded(undo); });
    var redoButton = button(T.redo, 'redo', function () { guarded(redo); });
    history.appendChild(undoButton);
    history.appendChild(redoButton);
    history.appendChild(button(T.reset, 'reset', function () { guarded(reset); }));
    panel.appendChild(history);

    var previewBox = el('div', 'gg-edit-preview');
    previewBox.setAttribute('data-edit', 'preview');
    panel.appendChild(previewBox);
    panel.appendChild(el('h4', 'gg-edit-subtitle', T.touched));
    var totals = el('table', 'gg-edit-totals');
    totals.setAttribute('data-edit', 'totals');
    panel.appendChild(totals);
    panel.appendChild(el('h4', 'gg-edit-subtitle', T.list));
    var editList = el('ol', 'gg-edit-list');
    editList.setAttribute('data-edit', 'list');
    panel.appendChild(editList);

    var files = el('div', 'gg-edit-row');
    files.appendChild(button(T.download, 'download', download));
    var fileInput = el('input', 'gg-edit-file');
    fileInput.type = 'file';
    fileInput.accept = '.csv,text/csv';
    fileInput.setAttribute('data-edit', 'file');
    fileInput.hidden = true;
    fileInput.addEventListener('change', function () {
      var file = fileInput.files && fileInput.files[0];
      if (!file) { return; }
      var reader = new FileReader();
      reader.onload = function () { guarded(function () { load(String(reader.result)); }); fileInput.value = ''; };
      reader.readAsText(file, 'utf-8');
    });
    files.appendChild(button(T.load, 'load', function () { fileInput.click(); }));
    files.appendChild(fileInput);
    panel.appendChild(files);

    var active = false, selection = [], lassoing = false, lassoPoints = [], lassoLine = null;

    function setActive(on) {
      active = !!on;
      panel.hidden = !active;
      toggle.textContent = active ? T.editing : T.edit;
      toggle.setAttribute('aria-pressed', active ? 'true' : 'false');
      box.classList.toggle('gg-edit-active', active);
      document.body.classList.toggle('gg-editing', active);
      if (!active) { cancelLasso(); select([]); }
      else if (view.map && typeof view.map.closePopup === 'function') { view.map.closePopup(); }
      render();
    }

    function showMessage(text) { message.textContent = text || (storageProblem || ''); }

    function guarded(fn) {
      try { fn(); showMessage(''); return true; } catch (exc) { showMessage(exc.message); return false; }
    }

    function select(codes) {
      selection = codes.filter(function (c) { return c in buildingIdx; });
      if (selection.length && typeof view.highlightBuildings === 'function') { view.highlightBuildings(selection.slice()); }
      else if (typeof view.clearHighlight === 'function') { view.clearHighlight(); }
      render();
    }

    function doMove() {
      if (!selection.length) { showMessage(say('no_buildings')); return; }
      if (guarded(function () { move(selection, target.value); })) { select([]); }
    }

    function startLasso() {
      lassoing = true; lassoPoints = [];
      lassoButton.textContent = T.finish;
      help.textContent = T.lasso_help;
    }
    function cancelLasso() {
      lassoing = false; lassoPoints = [];
      lassoButton.textContent = T.lasso;
      help.textContent = T.pick_help;
      if (lassoLine && view.map && typeof view.map.removeLayer === 'function') { view.map.removeLayer(lassoLine); }
      lassoLine = null;
    }
    function finishLasso() {
      var points = lassoPoints.slice();
      cancelLasso();
      if (points.length < 3 || typeof view.buildingsInPolygon !== 'function') { return; }
      var found = view.buildingsInPolygon(points) || [];
      var merged = selection.slice();
      Array.prototype.forEach.call(found, function (c) { if (merged.indexOf(c) < 0) { merged.push(c); } });
      select(merged);
    }
    if (view.map && typeof view.map.on === 'function') {
      view.map.on('click', function (event) {
        if (!active || !lassoing || !event || !event.latlng) { return; }
        lassoPoints.push(event.latlng);
        if (window.L && typeof window.L.polyline === 'function') {
          if (lassoLine) { lassoLine.setLatLngs(lassoPoints.concat([lassoPoints[0]])); }
          else { lassoLine = window.L.polyline(lassoPoints.slice(), { color: '#d6336c', weight: 2, dashArray: '4 4', interactive: false }).addTo(view.map); }
        }
      });
    }
    if (typeof view.onBuildingClick === 'function') {
      view.onBuildingClick(function (code, event) {
        if (!active || lassoing) { return; }
        var at = selection.indexOf(code);
        if (at >= 0) { select(selection.slice(0, at).concat(selection.slice(at + 1))); }
        else { select(selection.concat([code])); }
        if (event && typeof event.stopPropagation === 'function') { event.stopPropagation(); }
      });
    }
    if (typeof view.onGridClick === 'function') {
      view.onGridClick(function (code) {
        if (!active || lassoing) { return; }
        target.value = code;
        render();
      });
    }
    target.addEventListener('input', render);
    document.addEventListener('keydown', function (event) {
      if (!active) { return; }
      var typing = event.target && /^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName);
      if (event.key === 'Escape') { lassoing ? cancelLasso() : select([]); }
      else if (!typing && (event.ctrlKey || event.metaKey) && (event.key === 'z' || event.key === 'Z')) { event.preventDefault(); guarded(event.shiftKey ? redo : undo); }
      else if (!typing && (event.ctrlKey || event.metaKey) && (event.key === 'y' || event.key === 'Y')) { event.preventDefault(); guarded(redo); }
    });

    function download() {
      var blob = new Blob([csv()], { type: 'text/csv;charset=utf-8' });
      var url = URL.createObjectURL(blob);
      var link = el('a');
      link.href = url;
      link.download = 'edits.csv';
      link.style.display = 'none';
      document.body.appendChild(link);
      link.click();
      document.body.removeChild(link);
      setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    }

    function cellRow(cells, header) {
      var tr = el('tr');
      cells.forEach(function (value) {
        var td = el(header ? 'th' : 'td', value && value.className ? value.className : '', value && value.text !== undefined ? value.text : value);
        tr.appendChild(td);
      });
      return tr;
    }
    function statusCell(s) {
      if (s.buildings === 0) { return { text: T.empty, className: 'gg-edit-below' }; }
      return { text: T[s.status], className: 'gg-edit-' + s.status };
    }
    function pieceCell(s) {
      if (s.one_piece === null) { return { text: T.unknown, className: '' }; }
      return { text: s.one_piece ? T.yes : T.no, className: s.one_piece ? 'gg-edit-in' : 'gg-edit-split' };
    }
    function fillTable(table, rows) {
      table.textContent = '';
      if (!rows.length) { return; }
      table.appendChild(cellRow([T.grid, T.hh, T.nb, T.status, T.piece], true));
      rows.forEach(function (s) {
        var tr = cellRow([
          s.grid_code + (s.locked ? ' \u{1F512}' : ''),
          s.households_before === s.households ? String(s.households) : s.households_before + ' → ' + s.households,
          String(s.buildings), statusCell(s), pieceCell(s)
        ]);
        tr.setAttribute('data-grid', s.grid_code);
        tr.title = s.community + (s.community_name ? ' ' + s.community_name : '');
        table.appendChild(tr);
      });
    }

    function render() {
      if (!active) { return; }
      var hh = 0;
      selection.forEach(function (c) { hh += B.households[buildingIdx[c]]; });
      selectionLine.textContent = T.selected + ': ' + selection.length + ' ' + (selection.length === 1 ? T.building : T.buildings) + ', ' + hh + ' ' + T.households +
        (selection.length ? ' (' + selection.slice(0, 5).map(function (c) {
          var i = buildingIdx[c];
          return B.id[i] ? c + ' ' + B.id[i] : c;
        }).join(', ') + (selection.length > 5 ? ', …' : '') + ')' : '');
      previewBox.textContent = '';
      var code = target.value.trim();
      if (selection.length && code) {
        try {
          var table = el('table', 'gg-edit-totals');
          fillTable(table, preview(selection, code));
          var name = communityOfGrid(code) === null ? '' : C.name[communityIdx[communityOfGrid(code)]];
          previewBox.appendChild(el('div', 'gg-edit-subtitle', T.preview + ' → ' + code + (name ? ' (' + name + ')' : '')));
          previewBox.appendChild(table);
        } catch (exc) {
          previewBox.appendChild(el('div', 'gg-edit-warning', exc.message));
        }
      }
      fillTable(totals, summary());
      editList.textContent = '';
      var items = list();
      if (!items.length) { editList.appendChild(el('li', 'gg-edit-none', T.none)); }
      items.forEach(function (item) {
        var text;
        if (item.action === 'move') {
          var from = item.from.filter(function (g, i, all) { return all.indexOf(g) === i; }).join(', ');
          text = T.moved + ' ' + item.buildings.slice(0, 3).join(', ') + (item.buildings.length > 3 ? ' … (' + item.buildings.length + ')' : '') +
            ', ' + item.households + ' ' + T.households + ': ' + from + ' → ' + item.to;
        } else if (item.action === 'lock') { text = T.locked + ' ' + item.grid; }
        else if (item.action === 'unlock') { text = T.unlocked + ' ' + item.grid; }
        else { text = (item.action === 'reset' ? T.reset : T.loaded) + ': ' + item.moves + ' ' + (item.moves === 1 ? T.building : T.buildings); }
        editList.appendChild(el('li', 'gg-edit-item', text));
      });
      undoButton.disabled = !done.length;
      redoButton.disabled = !undone.length;
    }

    listeners.push(render);
    if (typeof view.setBuildingGrid === 'function') {  // the edits kept in this browser, drawn
      Object.keys(state.moved).sort(function (a, b) { return a - b; }).forEach(function (k) { view.setBuildingGrid(B.code[k], state.moved[k]); });
    }
    if (restored) { message.textContent = T.restored; }
    root.edit.setActive = setActive;
    root.edit.active = function () { return active; };
    root.edit.select = function (codes) { select(normalise(codes)); return selection.slice(); };
    root.edit.selection = function () { return selection.slice(); };
  }
})();
