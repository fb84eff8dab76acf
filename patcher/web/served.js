// served.js: a classic script (it runs where module scripts do not): a page opened from a file says why it
// cannot work and what to do, in the page and in the console, instead of waiting at "loading ..." forever.
(() => {
  if (location.protocol !== 'file:') return;
  const why = 'This page is opened from a file (file://), where the browser lets it load neither its modules ' +
    'nor the model: serve its folder over HTTP, e.g. "python -m patcher serve FOLDER", and open the address it prints.';
  console.error(why);
  const shown = document.getElementById('error');
  if (shown) { shown.textContent = why; shown.hidden = false; }
  const status = document.getElementById('status');
  if (status) status.textContent = 'not served over HTTP (see above)';
})();
