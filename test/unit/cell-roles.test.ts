/** How a cell says its SMLT role (shared/src/capture/cell-roles.ts), the one rule capture and the editors share. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasRole, markerOf, taggedRoles, withoutMarker } from '@smlt/shared/capture/cell-roles';

describe('cell roles', () => {
  it('reads a marker alone on the first non-blank line, in any case and either comment style', () => {
    assert.deepEqual(markerOf('code', ['// smlt: model', 'const m = 1;']), { role: 'model', line: 0 });
    assert.deepEqual(markerOf('code', ['', '  # SMLT:Data  ', 'x: a.npy']), { role: 'data', line: 1 });
    assert.deepEqual(markerOf('raw', ['#smlt : config']), { role: 'config', line: 0 });
  });

  it('takes nothing else for a marker: trailing words, a later line, Markdown, an unknown role', () => {
    assert.equal(markerOf('code', ['# smlt: model (the CNN)']), undefined);
    assert.equal(markerOf('code', ['x = 1', '# smlt: model']), undefined);
    assert.equal(markerOf('markdown', ['# SMLT: model']), undefined, 'a Markdown heading');
    assert.equal(markerOf('code', ['# smlt: optimizer']), undefined);
  });

  it('reads tags trimmed and in any case, and ignores what is not a list of strings', () => {
    assert.deepEqual([...taggedRoles([' SMLT:Model ', 'other', 3])], ['model']);
    assert.deepEqual([...taggedRoles('smlt:model')], []);
    assert.ok(hasRole({ cellType: 'markdown', text: '', tags: ['smlt:config'] }, 'config'), 'a tag counts on any cell');
    assert.ok(!hasRole({ cellType: 'code', text: '# smlt: data', tags: [] }, 'model'));
  });

  it('drops the marker line and keeps everything else', () => {
    assert.equal(withoutMarker('code', '\n// smlt: model\nconst m = 1;\n'), 'const m = 1;\n');
    assert.equal(withoutMarker('markdown', '# SMLT: model\ntext'), '# SMLT: model\ntext');
  });
});
