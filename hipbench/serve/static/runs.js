// Runs view: the leaderboard table (sorted and toggled as in leaderboard.html), a row's plots, its cases.
'use strict';

const Runs = {
  run: null,
  row: null,
  cases: null,

  async init() {
    const select = document.getElementById('run-select');
    const runs = await Hip.api('/api/runs');
    select.replaceChildren(...runs.map(r => Hip.el('option', { value: r.id, text: `${r.name} (${r.path})` })));
    if (!runs.length) {
      Hip.note('run-note', 'No run directories: pass RUN_DIR to hipbench serve, or keep runs under runs/.');
      return;
    }
    select.addEventListener('change', () => Runs.load(select.value));
    for (const id of ['case-sort', 'case-grade', 'case-mismatch', 'case-min-error']) {
      document.getElementById(id).addEventListener('change', () => Runs.showCases());
    }
    await Runs.load(runs[0].id);
  },

  async load(runId) {
    Runs.run = runId;
    document.getElementById('row-detail').hidden = true;
    Hip.note('run-note', 'computing the leaderboard (patient bootstrap)…');
    const board = await Hip.api(`/api/runs/${encodeURIComponent(runId)}/leaderboard`);
    Hip.note('run-note', board.machine ? `${board.name}: ${board.machine}` : board.name);
    document.getElementById('lb-legend').textContent = board.legend;
    const table = document.getElementById('leaderboard');
    const headRow = Hip.el('tr');
    for (const column of board.columns) {
      const th = Hip.el('th', { text: column.name, 'data-group': column.group, class: column.default ? '' : 'hidden' });
      th.addEventListener('click', () => Runs.sortBy(th));
      headRow.append(th);
    }
    table.tHead.replaceChildren(headRow);
    const body = table.tBodies[0];
    body.replaceChildren();
    for (const row of board.rows) {
      const tr = Hip.el('tr', { 'data-key': row.key });
      for (const column of board.columns) {
        tr.append(Hip.el('td', { text: row.cells[column.name] || '', title: row.titles[column.name] || '',
                                 'data-group': column.group, class: column.default ? '' : 'hidden' }));
      }
      tr.addEventListener('click', () => Runs.open(row, tr));
      body.append(tr);
    }
    const groups = document.getElementById('lb-groups');
    groups.replaceChildren(...board.groups.map(group => {
      const box = Hip.el('input', { type: 'checkbox', value: group });
      box.addEventListener('change', () => document.querySelectorAll(`#leaderboard [data-group="${group}"]`)
        .forEach(cell => cell.classList.toggle('hidden', !box.checked)));
      return Hip.el('label', {}, box, ` ${group} `);
    }));
  },

  // the HTML leaderboard's sort: numbers by value (before text), text alphabetically; click again to reverse
  sortBy(th) {
    const table = th.closest('table');
    const i = [...th.parentNode.children].indexOf(th);
    const dir = th.dataset.dir === 'asc' ? 'desc' : 'asc';
    th.parentNode.querySelectorAll('th').forEach(h => delete h.dataset.dir);
    th.dataset.dir = dir;
    const key = r => { const t = r.cells[i].textContent.trim(); const n = parseFloat(t); return isNaN(n) ? t : n; };
    const rows = [...table.tBodies[0].rows];
    rows.sort((a, b) => {
      const x = key(a), y = key(b);
      const c = (typeof x === 'number' && typeof y === 'number') ? x - y
        : (typeof x === 'number' ? -1 : (typeof y === 'number' ? 1 : String(x).localeCompare(String(y))));
      return dir === 'asc' ? c : -c;
    });
    rows.forEach(r => table.tBodies[0].appendChild(r));
  },

  async open(row, tr) {
    document.querySelectorAll('#leaderboard tr.selected').forEach(r => r.classList.remove('selected'));
    tr.classList.add('selected');
    Runs.row = row.key;
    const detail = document.getElementById('row-detail');
    detail.hidden = false;
    document.getElementById('row-title').textContent = row.cells.combination || row.key;
    const base = `/api/runs/${encodeURIComponent(Runs.run)}`;
    document.getElementById('row-plots').replaceChildren(...row.plots.map(name => Hip.el('figure', {},
      Hip.el('img', { src: `${base}/plot?${Hip.query({ row: row.key, name })}`, alt: name }),
      Hip.el('figcaption', { text: name.replace('.png', '') }))));
    document.getElementById('case-list').tBodies[0].replaceChildren();
    Runs.cases = null;
    if (!row.cases) {
      Hip.note('case-note', 'this row has no stored test-fold predictions');
      return;
    }
    Runs.cases = await Hip.api(`${base}/cases?${Hip.query({ row: row.key })}`);
    const grades = (Runs.cases.measures.find(m => m.name === Runs.cases.grade_measure) || { grades: [] }).grades;
    document.getElementById('case-grade').replaceChildren(Hip.el('option', { value: '', text: 'any' }),
      ...grades.map((g, i) => Hip.el('option', { value: String(i + 1), text: g })));
    Runs.showCases();
  },

  showCases() {
    if (!Runs.cases) return;
    const data = Runs.cases;
    const sort = document.getElementById('case-sort').value;
    const grade = document.getElementById('case-grade').value;
    const mismatch = document.getElementById('case-mismatch').checked;
    const minError = parseFloat(document.getElementById('case-min-error').value) || 0;
    const gm = data.grade_measure;
    let cases = data.cases.filter(c => (c.error_px || 0) >= minError);
    if (grade && gm) cases = cases.filter(c => c.truth[gm].includes(Number(grade)));
    if (mismatch && gm) cases = cases.filter(c => c.truth[gm].some((g, k) => g !== c.pred[gm][k]));
    const value = c => (sort === 'ai' ? c.ai_error : c.error_px);
    cases = [...cases].sort((a, b) => (value(b) ?? -1) - (value(a) ?? -1));
    document.getElementById('case-count').textContent = `${cases.length} of ${data.cases.length} cases`;
    const shown = data.measures.filter(m => m.name === 'ai' || m.name === gm);
    const head = Hip.el('tr', {}, Hip.el('th', { text: '#' }), Hip.el('th', { text: 'image' }),
      Hip.el('th', { text: 'fold' }), Hip.el('th', { text: 'error px' }), Hip.el('th', { text: 'error mm' }));
    for (const m of shown) {
      for (const side of ['left', 'right']) head.append(Hip.el('th', { class: side, text: `${m.title} ${side} truth → pred` }));
    }
    const table = document.getElementById('case-list');
    table.tHead.replaceChildren(head);
    const fmt = (m, v) => (v === null || v === undefined ? '–'
      : (m.kind === 'graded' ? (m.grades[v - 1] || '–') : v.toFixed(1)));
    table.tBodies[0].replaceChildren(...cases.map((c, i) => {
      const tr = Hip.el('tr', { 'data-image': c.image_id }, Hip.el('td', { text: String(i + 1) }),
        Hip.el('td', { text: c.image_id }), Hip.el('td', { text: String(c.fold) }),
        Hip.el('td', { text: c.error_px === null ? '–' : c.error_px.toFixed(2) }),
        Hip.el('td', { text: c.error_mm === null ? '–' : c.error_mm.toFixed(2) }));
      for (const m of shown) {
        [0, 1].forEach(k => tr.append(Hip.el('td', { text: `${fmt(m, c.truth[m.name][k])} → ${fmt(m, c.pred[m.name][k])}` })));
      }
      tr.addEventListener('click', () => Runs.showCase(c.image_id, tr));
      return tr;
    }));
    if (cases.length) Runs.showCase(cases[0].image_id, table.tBodies[0].rows[0]);
  },

  async showCase(imageId, tr) {
    document.querySelectorAll('#case-list tr.selected').forEach(r => r.classList.remove('selected'));
    if (tr) tr.classList.add('selected');
    const base = `/api/runs/${encodeURIComponent(Runs.run)}`;
    const params = Hip.query({ row: Runs.row, image: imageId });
    const c = await Hip.api(`${base}/case?${params}`);
    const canvas = document.getElementById('case-canvas');
    const scale = Math.min(480 / c.image.width, 480 / c.image.height);
    canvas.width = Math.round(c.image.width * scale);
    canvas.height = Math.round(c.image.height * scale);
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#222';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    let note = c.image.note;
    if (c.image.available) {
      try {
        ctx.drawImage(await Hip.loadImage(`${base}/case.png?${params}`), 0, 0, canvas.width, canvas.height);
      } catch (error) {
        note = 'the image could not be loaded: points on a blank canvas of the image size';
      }
    }
    ctx.strokeStyle = '#ff3b30';
    ctx.lineWidth = 1.5;
    c.truth.forEach((t, k) => {
      const p = c.pred[k];
      if (!t || !p) return;
      ctx.beginPath();
      ctx.moveTo(t[0] * scale, t[1] * scale);
      ctx.lineTo(p[0] * scale, p[1] * scale);
      ctx.stroke();
    });
    Hip.drawPoints(ctx, c.truth, c.schema, scale, { filled: false, radius: 5 });
    Hip.drawPoints(ctx, c.pred, c.schema, scale, { filled: true, radius: 3 });
    Hip.note('case-note', note);
    Hip.measuresTable(document.getElementById('case-measures'), { truth: c.measures.truth, pred: c.measures.pred });
  },
};
