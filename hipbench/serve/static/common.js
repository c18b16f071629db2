// Shared helpers of the three views: requests to this server, DOM building, drawing landmarks.
'use strict';

const Hip = {
  SIDE_COLOURS: { left: '#ff8c00', right: '#00c8ff', none: '#50dc50' },

  // fetch() on this server only; every request that changes something carries the header the server
  // requires of writes (a cross-site page cannot send it without a preflight the server never answers)
  async api(path, options = {}) {
    const init = { credentials: 'same-origin', method: options.method || 'GET', headers: {} };
    if (init.method !== 'GET') init.headers['X-Requested-With'] = 'hipbench';
    if (options.json !== undefined) {
      init.body = JSON.stringify(options.json);
      init.headers['Content-Type'] = 'application/json';
    } else if (options.body !== undefined) {
      init.body = options.body;
      init.headers['Content-Type'] = 'application/octet-stream';
    }
    const response = await fetch(path, init);
    const type = response.headers.get('content-type') || '';
    const data = type.includes('json') ? await response.json() : null;
    if (!response.ok) {
      const error = new Error((data && data.error) || `${response.status} ${response.statusText}`);
      error.status = response.status;
      error.data = data || {};
      throw error;
    }
    return data;
  },

  query(params) {
    return new URLSearchParams(params).toString();
  },

  el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) {
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key.startsWith('data-')) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) node.append(child);
    return node;
  },

  status(text) {
    document.getElementById('status').textContent = text || '';
  },

  note(id, text, ok = false) {
    const node = document.getElementById(id);
    node.textContent = text || '';
    node.classList.toggle('ok', ok);
  },

  loadImage(url) {
    return new Promise((resolve, reject) => {
      const image = new Image();
      image.onload = () => resolve(image);
      image.onerror = () => reject(new Error('image not available'));
      image.src = url;
    });
  },

  // one circle per placed landmark of `points` ([x, y] or null) at `scale`; hollow or filled
  drawPoints(ctx, points, schema, scale, { filled = true, radius = 5, highlight = -1 } = {}) {
    points.forEach((p, k) => {
      if (!p) return;
      ctx.beginPath();
      ctx.arc(p[0] * scale, p[1] * scale, k === highlight ? radius + 3 : radius, 0, 2 * Math.PI);
      const colour = Hip.SIDE_COLOURS[schema.sides[k]] || Hip.SIDE_COLOURS.none;
      ctx.lineWidth = 2;
      if (filled) {
        ctx.fillStyle = colour;
        ctx.fill();
        ctx.strokeStyle = k === highlight ? '#fff' : '#000';
        ctx.stroke();
      } else {
        ctx.strokeStyle = colour;
        ctx.stroke();
      }
    });
  },

  // a measures table: one row per measure, one column per (image side x source)
  measuresTable(table, sources) {
    table.replaceChildren();
    const names = Object.keys(sources);
    const head = Hip.el('tr', {}, Hip.el('th', { text: 'measure' }));
    for (const side of ['left', 'right']) {
      for (const name of names) {
        head.append(Hip.el('th', { class: side, text: `image-${side}${names.length > 1 ? ' ' + name : ''}` }));
      }
    }
    table.append(Hip.el('thead', {}, head));
    const body = Hip.el('tbody');
    const first = sources[names[0]] || [];
    first.forEach((measure, i) => {
      const row = Hip.el('tr', {}, Hip.el('td', { text: measure.title + (measure.unit ? ` (${measure.unit})` : '') }));
      for (const side of ['left', 'right']) {
        for (const name of names) {
          const hip = sources[name][i].hips[side];
          row.append(Hip.el('td', { text: hip.text, title: hip.reason || '', 'data-measure': measure.name,
                                    'data-side': side }));
        }
      }
      body.append(row);
    });
    table.append(body);
  },
};
