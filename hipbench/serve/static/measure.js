// Measure view: upload an image, predict and measure it with the chosen model, download the JSON.
'use strict';

const Measure = {
  upload: null,
  result: null,

  async init(models) {
    const select = document.getElementById('measure-model');
    select.replaceChildren(...models.map(m => Hip.el('option', { value: m.id, text: m.label })));
    if (!models.length) Hip.note('measure-status', 'No trained model: pass a run directory with model.pt files.');
    document.getElementById('measure-file').addEventListener('change', () => Measure.run());
    document.getElementById('measure-run').addEventListener('click', () => Measure.run());
    document.getElementById('measure-review').addEventListener('click', () => {
      Main.show('review');
      Review.openUpload(Measure.upload, Measure.result);
    });
  },

  // the chosen file goes up once; choosing another model measures the same upload again
  async run() {
    const input = document.getElementById('measure-file');
    const model = document.getElementById('measure-model').value;
    try {
      if (input.files.length && (!Measure.upload || Measure.upload.file !== input.files[0])) {
        Hip.note('measure-status', 'uploading…');
        const stored = await Hip.api('/api/uploads', { method: 'POST', body: input.files[0] });
        Measure.upload = { ...stored, file: input.files[0] };
      }
      if (!Measure.upload) return Hip.note('measure-status', 'choose an image first');
      if (!model) return Hip.note('measure-status', 'no model to measure with');
      Hip.note('measure-status', 'predicting…');
      const ensemble = document.getElementById('measure-ensemble').checked;
      const result = await Hip.api('/api/measure', { method: 'POST',
                                                     json: { upload: Measure.upload.upload, model, ensemble } });
      Measure.result = result;
      Measure.show(result);
      Hip.note('measure-status', `measured with ${result.prediction.model.row || 'the chosen cell'}`, true);
    } catch (error) {
      Hip.note('measure-status', error.message);
    }
  },

  // the JSON's uncertainty (a fold ensemble's): the AI's sd per side and the widest landmark spread
  uncertaintyText(result) {
    const u = result.uncertainty;
    if (!u) return `Uncertainty: ${result.uncertainty_note}.`;
    const sd = u.acetabular_index_sd_deg || {};
    const spreads = Object.entries(u.landmark_spread_px || {}).filter(([, v]) => v !== null);
    const [worst, widest] = spreads.reduce((a, b) => (b[1] > a[1] ? b : a), ['–', -1]);
    const fmt = v => (v === null || v === undefined ? '–' : v.toFixed(1));
    return `Uncertainty (${u.method}): AI sd image-left ${fmt(sd.left)} deg, image-right ${fmt(sd.right)} deg; ` +
           `widest landmark spread ${widest >= 0 ? widest.toFixed(1) : '–'} px (${worst}).`;
  },

  show(result) {
    document.getElementById('measure-out').hidden = false;
    document.getElementById('measure-overlay').src = result.overlay;
    Hip.measuresTable(document.getElementById('measure-table'), { value: result.measures });
    document.getElementById('measure-uncertainty').textContent = Measure.uncertaintyText(result);
    document.getElementById('measure-warnings').replaceChildren(
      ...result.prediction.warnings.map(w => Hip.el('li', { class: 'note', text: w })));
    document.getElementById('measure-json').href = result.json;
    const model = result.prediction.model;
    document.getElementById('measure-model-note').textContent =
      `${result.reason}; ${model.backbone.type} / ${model.head.type}, framing ${model.framing.type}, ` +
      `detector ${model.detector}. The JSON is the file hipbench predict writes for this image and model.`;
  },
};
