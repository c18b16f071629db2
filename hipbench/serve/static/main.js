// The page: one view at a time (#runs, #measure, #review), each initialised once.
'use strict';

const Main = {
  show(view) {
    for (const section of document.querySelectorAll('.view')) section.hidden = section.id !== `view-${view}`;
    for (const link of document.querySelectorAll('header nav a')) link.classList.toggle('active', link.dataset.view === view);
    if (location.hash !== `#${view}`) history.replaceState(null, '', `#${view}`);
  },

  async init() {
    for (const link of document.querySelectorAll('header nav a')) {
      link.addEventListener('click', event => { event.preventDefault(); Main.show(link.dataset.view); });
    }
    Main.show((location.hash || '#runs').slice(1));
    try {
      const models = await Hip.api('/api/models');
      await Promise.all([Runs.init(), Measure.init(models), Review.init(models)]);
      document.body.dataset.ready = 'true';
    } catch (error) {
      Hip.status(error.message);
    }
  },
};

document.addEventListener('DOMContentLoaded', () => Main.init());
