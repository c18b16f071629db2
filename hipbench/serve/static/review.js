// Review view: place and drag landmarks on a dataset image or an upload, see the measures recomputed by the
// server after each move, save into the dataset folder (asking before anything is overwritten).
'use strict';

const Review = {
  folder: null,
  state: null,
  drag: null,
  timer: null,
  VIEW: 636,  // the canvas area (px) an image is fitted into at zoom 1

  async init(models) {
    document.getElementById('review-model').replaceChildren(
      ...models.map(m => Hip.el('option', { value: m.id, text: m.label })));
    Review.folder = await Hip.api('/api/review');
    if (Review.folder.available) {
      document.getElementById('review-folder').textContent =
        `Dataset folder ${Review.folder.root}: ${Review.folder.format}, schema ${Review.folder.schema.name}. ` +
        'Saves go into this folder in its own format; every save is written to annotation_audit.jsonl there.';
      await Review.listImages();
      await Review.showAudit();
    } else {
      document.getElementById('review-folder').textContent = Review.folder.note;
      document.getElementById('review-save').disabled = true;
    }
    document.getElementById('review-image').addEventListener('change', event => {
      if (event.target.value) Review.openImage(event.target.value);
    });
    document.getElementById('review-file').addEventListener('change', event => Review.uploadFile(event.target));
    document.getElementById('review-from-model').addEventListener('click', () => Review.fromModel());
    document.getElementById('review-from-empty').addEventListener('click', () => Review.restart(null, 'empty'));
    document.getElementById('review-from-saved').addEventListener('click', () => Review.fromSaved());
    document.getElementById('review-save').addEventListener('click', () => Review.save(false));
    const canvas = document.getElementById('review-canvas');
    canvas.addEventListener('pointerdown', event => Review.pointerDown(event));
    canvas.addEventListener('pointermove', event => Review.pointerMove(event));
    canvas.addEventListener('pointerup', () => Review.pointerUp());
    canvas.addEventListener('keydown', event => Review.key(event));
  },

  async listImages(selected) {
    const select = document.getElementById('review-image');
    const folder = await Hip.api('/api/review');
    select.replaceChildren(Hip.el('option', { value: '', text: `choose one of ${folder.images.length} images…` }),
      ...folder.images.map(i => Hip.el('option', { value: i.name, text: `${i.name}${i.annotated ? ' ✓' : ''}` })));
    if (selected) select.value = selected;
  },

  async openImage(name) {
    try {
      const info = await Hip.api(`/api/review/image?${Hip.query({ name })}`);
      const image = await Hip.loadImage(`/api/review/pixels.png?${Hip.query({ name })}`);
      Review.start({ source: { name }, width: info.width, height: info.height, schema: info.schema, image,
                     points: info.points, origin: info.points ? 'existing' : 'empty', model: null,
                     hasSaved: !!info.points, note: info.points ? `annotation ${info.annotation}` : info.note });
    } catch (error) {
      Hip.note('review-status', error.message);
    }
  },

  async uploadFile(input) {
    if (!input.files.length) return;
    try {
      Hip.note('review-status', 'uploading…');
      const stored = await Hip.api('/api/uploads', { method: 'POST', body: input.files[0] });
      await Review.openUpload(stored, null);
    } catch (error) {
      Hip.note('review-status', error.message);
    }
  },

  // an upload (from this view or from Measure, with that measurement's landmarks as the start)
  async openUpload(upload, measured) {
    const image = await Hip.loadImage(`/api/uploads/${upload.upload}/image.png`);
    const schema = Review.folder.available ? Review.folder.schema : (measured ? measured.schema : null);
    if (!schema) return Hip.note('review-status', 'no landmark schema: start the server with --data DIR');
    const usable = measured && measured.schema.names.join() === schema.names.join();
    Review.start({ source: { upload: upload.upload }, width: upload.width, height: upload.height, schema, image,
                   points: usable ? measured.keypoints : null, origin: usable ? 'model' : 'empty',
                   model: usable ? measured.model : null, hasSaved: false,
                   note: usable ? 'landmarks of the measurement' : 'no landmarks yet' });
    document.getElementById('review-save-as').value = `upload-${upload.upload.slice(0, 8)}`;
  },

  start(options) {
    const state = { ...options, points: [], selected: 0, history: [], zoom: 1 };
    state.fit = Math.min(Review.VIEW / state.width, Review.VIEW / state.height);
    Review.state = state;
    Review.restart(options.points, options.origin, options.model, options.note);
    document.getElementById('review-save-as-label').hidden = !state.source.upload;
  },

  // new starting points; a model's landmarks outside the image go to its edge (they could not be dragged)
  restart(points, origin, model = null, note = '') {
    const s = Review.state;
    if (!s) return;
    const k = s.schema.names.length;
    let moved = 0;
    s.points = Array.from({ length: k }, (_, i) => {
      const p = points ? points[i] : null;
      if (!p) return null;
      const x = Math.min(Math.max(p[0], 0), s.width), y = Math.min(Math.max(p[1], 0), s.height);
      if (x !== p[0] || y !== p[1]) moved += 1;
      return [x, y];
    });
    s.history = [];
    s.origin = origin;
    s.model = model;
    s.selected = Math.max(0, s.points.findIndex(p => !p));
    s.startNote = (note ? ` (${note})` : '') + (moved ? `; ${moved} landmark(s) outside the image placed on its edge` : '');
    Review.info();
    Hip.note('review-status', '');
    Review.renderList();
    Review.draw();
    Review.recompute();
    document.getElementById('review-canvas').focus();
  },

  info() {
    const s = Review.state;
    document.getElementById('review-info').textContent =
      `${s.source.name || 'upload, not in the dataset yet'} (${s.width}×${s.height}); start: ${s.origin}${s.startNote}`;
  },

  async fromModel() {
    const s = Review.state;
    if (!s) return Hip.note('review-status', 'open an image first');
    const model = document.getElementById('review-model').value;
    try {
      Hip.note('review-status', 'predicting…');
      const body = s.source.upload ? { upload: s.source.upload, model } : { name: s.source.name, model };
      const result = await Hip.api('/api/review/predict', { method: 'POST', json: body });
      Review.restart(result.points, 'model', model, result.reason);
    } catch (error) {
      Hip.note('review-status', error.message);
    }
  },

  async fromSaved() {
    const s = Review.state;
    if (!s || !s.source.name) return Hip.note('review-status', 'this image has no saved annotation');
    const info = await Hip.api(`/api/review/image?${Hip.query({ name: s.source.name })}`);
    if (!info.points) return Hip.note('review-status', info.note);
    Review.restart(info.points, 'existing', null, `annotation ${info.annotation}`);
  },

  scale() {
    return Review.state.fit * Review.state.zoom;
  },

  // where landmark k is on the screen (client pixels); used by the browser test to drag it
  screenPoint(k) {
    const rect = document.getElementById('review-canvas').getBoundingClientRect();
    const p = Review.state.points[k];
    return p ? { x: rect.left + p[0] * Review.scale(), y: rect.top + p[1] * Review.scale() } : null;
  },

  toImage(event) {
    const rect = document.getElementById('review-canvas').getBoundingClientRect();
    const s = Review.state;
    const x = (event.clientX - rect.left) / Review.scale(), y = (event.clientY - rect.top) / Review.scale();
    return [Math.min(Math.max(x, 0), s.width), Math.min(Math.max(y, 0), s.height)];
  },

  hit(point) {
    let best = -1, bestDistance = 10 / Review.scale();  // 10 screen pixels
    Review.state.points.forEach((p, k) => {
      if (!p) return;
      const d = Math.hypot(p[0] - point[0], p[1] - point[1]);
      if (d <= bestDistance) { best = k; bestDistance = d; }
    });
    return best;
  },

  snapshot() {
    const s = Review.state;
    s.history.push(s.points.map(p => (p ? [...p] : null)));
    if (s.history.length > 200) s.history.shift();
  },

  pointerDown(event) {
    const s = Review.state;
    if (!s) return;
    event.preventDefault();
    const canvas = document.getElementById('review-canvas');
    canvas.focus();
    canvas.setPointerCapture(event.pointerId);
    const point = Review.toImage(event);
    // while the selected landmark is unplaced a click places it, even next to another landmark
    const k = s.points[s.selected] ? Review.hit(point) : -1;
    Review.snapshot();
    if (k >= 0) {
      s.selected = k;
      Review.drag = { k };
    } else {
      const wasPlaced = !!s.points[s.selected];
      s.points[s.selected] = point;
      Review.drag = { k: s.selected };
      if (!wasPlaced) {
        const next = s.points.findIndex(p => !p);
        if (next >= 0) s.selected = next;
      }
    }
    Review.changed();
  },

  pointerMove(event) {
    if (!Review.drag) return;
    Review.state.points[Review.drag.k] = Review.toImage(event);
    Review.changed();
  },

  pointerUp() {
    Review.drag = null;
  },

  key(event) {
    const s = Review.state;
    if (!s) return;
    const k = s.points.length;
    const key = event.key;
    const nudge = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[key];
    if ((key === 'Tab' && !event.shiftKey) || key === 'n' || key === 'N') {
      s.selected = (s.selected + 1) % k;
    } else if ((key === 'Tab' && event.shiftKey) || key === 'p' || key === 'P') {
      s.selected = (s.selected - 1 + k) % k;
    } else if (key === 'u' || key === 'U' || ((event.ctrlKey || event.metaKey) && (key === 'z' || key === 'Z'))) {
      if (s.history.length) s.points = s.history.pop();
      Review.changed();
    } else if (key === '+' || key === '=') {
      s.zoom = Math.min(s.zoom * 1.25, 16);
    } else if (key === '-' || key === '_') {
      s.zoom = Math.max(s.zoom / 1.25, 0.25);
    } else if (key === '0') {
      s.zoom = 1;
    } else if (nudge && s.points[s.selected]) {
      Review.snapshot();
      const step = event.shiftKey ? 10 : 1;
      const p = s.points[s.selected];
      s.points[s.selected] = [Math.min(Math.max(p[0] + nudge[0] * step, 0), s.width),
                              Math.min(Math.max(p[1] + nudge[1] * step, 0), s.height)];
      Review.changed();
    } else if (key === 'Delete' || key === 'Backspace') {
      Review.snapshot();
      s.points[s.selected] = null;
      Review.changed();
    } else {
      return;
    }
    event.preventDefault();
    Review.renderList();
    Review.draw();
  },

  changed() {
    Review.renderList();
    Review.draw();
    Review.recompute();
  },

  renderList() {
    const s = Review.state;
    document.getElementById('review-landmarks').replaceChildren(...s.schema.names.map((name, k) => {
      const p = s.points[k];
      const item = Hip.el('li', { class: `${k === s.selected ? 'selected ' : ''}${p ? '' : 'unplaced'}`,
                                  text: `${name}${p ? ` (${p[0].toFixed(1)}, ${p[1].toFixed(1)})` : ' – not placed'}` });
      item.addEventListener('click', () => { s.selected = k; Review.renderList(); Review.draw(); });
      return item;
    }));
  },

  draw() {
    const s = Review.state;
    const canvas = document.getElementById('review-canvas');
    const scale = Review.scale();
    canvas.width = Math.round(s.width * scale);
    canvas.height = Math.round(s.height * scale);
    const ctx = canvas.getContext('2d');
    ctx.imageSmoothingEnabled = scale < 4;
    ctx.drawImage(s.image, 0, 0, canvas.width, canvas.height);
    Hip.drawPoints(ctx, s.points, s.schema, scale, { radius: 5, highlight: s.selected });
    ctx.font = '12px sans-serif';
    ctx.fillStyle = '#fff';
    s.points.forEach((p, k) => { if (p) ctx.fillText(String(k + 1), p[0] * scale + 8, p[1] * scale - 6); });
  },

  // the server computes every measure of the schema (the MEASURES plugins); at most one request in flight
  recompute() {
    clearTimeout(Review.timer);
    Review.timer = setTimeout(async () => {
      const s = Review.state;
      try {
        const result = await Hip.api('/api/measures', { method: 'POST', json: { points: s.points, schema: s.schema.name } });
        Hip.measuresTable(document.getElementById('review-measures'), { value: result.measures });
      } catch (error) {
        Hip.note('review-status', error.message);
      }
    }, 120);
  },

  async save(overwrite) {
    const s = Review.state;
    if (!s) return Hip.note('review-status', 'open an image first');
    const body = { points: s.points, overwrite, source: s.origin, model: s.model };
    if (s.source.upload) {
      body.upload = s.source.upload;
      body.save_as = document.getElementById('review-save-as').value.trim();
    } else {
      body.name = s.source.name;
    }
    try {
      const result = await Hip.api('/api/review/save', { method: 'POST', json: body });
      const changed = result.changes.map(c => c.landmark).join(', ');
      Hip.note('review-status', `saved ${result.saved} (${result.action}; ${result.changes.length} landmark(s) ` +
                                `changed${changed ? ': ' + changed : ''})`, true);
      if (s.source.upload) {
        s.source = { name: result.image.split('/').pop() };
        document.getElementById('review-save-as-label').hidden = true;
        Review.info();
      }
      s.hasSaved = true;
      await Review.listImages(s.source.name);
      await Review.showAudit();
    } catch (error) {
      if (error.status === 409 && error.data.can_overwrite && !overwrite) {
        if (window.confirm(`${error.message}.\n\nOverwrite it?`)) return Review.save(true);
        return Hip.note('review-status', 'not saved: the existing annotation was kept');
      }
      Hip.note('review-status', error.message);
    }
  },

  async showAudit() {
    const entries = await Hip.api('/api/review/audit');
    document.getElementById('review-audit').replaceChildren(...entries.reverse().map(e => Hip.el('li', {
      text: `${e.time} ${e.action} ${e.annotation} (${e.source}): ` +
            (e.changes.length ? e.changes.map(c => c.landmark).join(', ') : 'no landmark changed') })));
  },
};
