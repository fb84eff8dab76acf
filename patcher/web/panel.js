// panel.js: the demo page's Effects panel, built on segmenter.js's effects only: the class-colour overlay,
// hair colour, lip colour, background blur or replacement, on whatever picture the page shows. Effects
// whose classes the model lacks are not offered.
import { recolor, replaceBackground } from './segmenter.js';

// Each effect: the classes it needs (all present in the model, or it is not offered) and how it draws.
const EFFECTS = {
  overlay: {label: 'class overlay', needs: []},
  hair: {label: 'hair colour', needs: ['hair'], color: '#8a3ffc'},
  lips: {label: 'lip colour', needs: ['u_lip', 'l_lip'], color: '#d0103a'},
  blur: {label: 'background blur', needs: ['background']},
  replace: {label: 'background colour', needs: ['background'], color: '#20a060'},
};

// `root`: the panel's element (holding #effect, #effect-color, #effect-strength, #effect-smooth); `changed()` is called when
// a setting changes. Returns {offer(classes), wants(seg, video), draw(canvas, picture, result, seg)}.
export function effectsPanel(root, changed) {
  const select = root.querySelector('#effect');
  const color = root.querySelector('#effect-color');
  const strength = root.querySelector('#effect-strength');
  const smooth = root.querySelector('#effect-smooth');
  if (new URLSearchParams(location.search).get('smooth') === '0') smooth.checked = false;
  smooth.onchange = changed;
  const settings = () => ({effect: select.value, color: color.value, strength: Number(strength.value)});
  select.onchange = () => {
    const chosen = EFFECTS[select.value];
    color.disabled = !chosen.color;
    if (chosen.color) color.value = chosen.color;
    strength.disabled = select.value === 'overlay';
    changed();
  };
  color.oninput = changed;
  strength.oninput = changed;

  return {
    settings,

    // Offer the effects this model's classes allow.
    offer(classes) {
      for (const option of select.options) {
        const effect = EFFECTS[option.value];
        option.disabled = !effect.needs.every((name) => classes.includes(name));
        option.title = option.disabled ? `this model has no ${effect.needs.join(' or ')} class` : '';
      }
      if (select.selectedOptions[0].disabled) select.value = 'overlay';
      select.onchange();
    },

    // segment()'s options for the current effect: masks where it needs them; smoothing for video (unless
    // unticked, or ?smooth=0).
    wants(seg, video) {
      const effect = EFFECTS[select.value];
      const masks = select.value === 'blur' || select.value === 'replace' ? 'all' : effect.needs;
      return {smoothing: Boolean(video) && smooth.checked, ...(masks.length ? {masks} : {})};
    },

    // Draw the effect of `result` on `picture` into `canvas`; false for the overlay (the page draws it).
    draw(canvas, picture, result, seg) {
      const {effect, color: chosen, strength: k} = settings();
      if (effect === 'overlay' || !result.masks) return false;
      const keep = seg.classes.filter((name) => name !== 'background');
      let image;
      if (effect === 'hair' || effect === 'lips') {
        image = recolor(picture, result, {classes: EFFECTS[effect].needs, color: chosen, strength: k, feather: 1});
      } else if (effect === 'blur') {
        image = replaceBackground(picture, result, {keep, blur: Math.max(1, Math.round(12 * k)), feather: 1});
      } else {
        image = replaceBackground(picture, result, {keep, color: chosen, feather: 1});
      }
      canvas.getContext('2d').putImageData(image, 0, 0);
      return true;
    },
  };
}
