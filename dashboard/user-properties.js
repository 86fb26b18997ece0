// An editor of MQTT 5.0 User Properties: name/value rows, added and removed, read back as ordered pairs.
//
//   const editor = createUserPropertiesEditor();
//   form.append(editor.el);
//   editor.pairs()   → [['unit', 'celsius'], ['unit', 'kelvin']]   (a name may repeat [MQTT-3.3.2-18 v5])
import { h } from './dom.js';

export function createUserPropertiesEditor() {
  const rows = h('div', { class: 'pair-rows' });
  const add = h('button', { type: 'button', class: 'link' }, 'Add user property');
  const el = h('fieldset', { class: 'user-properties-editor' }, h('legend', null, 'User properties'), rows, add);

  /** Row labels carry their position, so a test or a screen reader can address "User property 2 value". */
  function renumber() {
    [...rows.children].forEach((row, i) => {
      const [name, value, remove] = row.querySelectorAll('input, button');
      name.setAttribute('aria-label', `User property ${i + 1} name`);
      value.setAttribute('aria-label', `User property ${i + 1} value`);
      remove.setAttribute('aria-label', `Remove user property ${i + 1}`);
    });
  }

  function addRow(name = '', value = '') {
    const row = h(
      'div',
      { class: 'pair-row' },
      h('input', { type: 'text', value: name, placeholder: 'name', autocomplete: 'off', spellcheck: 'false' }),
      h('input', { type: 'text', value, placeholder: 'value', autocomplete: 'off', spellcheck: 'false' }),
      h('button', { type: 'button', class: 'link', onclick: () => { row.remove(); renumber(); } }, 'Remove'),
    );
    rows.append(row);
    renumber();
    return row;
  }
  add.addEventListener('click', () => addRow().querySelector('input')?.focus());

  return {
    el,
    /** The rows with a name, in order; a value may be empty. */
    pairs() {
      return [...rows.children]
        .map((row) => [...row.querySelectorAll('input')].map((input) => input.value))
        .filter(([name]) => name !== '')
        .map(([name, value]) => [name, value]);
    },
    /** 3.1.1 has no properties: the editor is shown disabled, with the reason. */
    setEnabled(enabled) {
      el.disabled = !enabled;
      el.title = enabled ? '' : 'User properties need MQTT 5.0';
    },
  };
}
