import { readFileSync } from 'node:fs';
import path from 'node:path';
import { apiSchema, apiSdl, findUndocumented, SUBGRAPH_SDL_FILES } from '@cryptoagg/docs';
import { REPO_ROOT } from '@cryptoagg/core';
import { getNamedType, isEnumType, isInputObjectType, isInterfaceType, isObjectType, isSpecifiedScalarType } from 'graphql';
import { describe, expect, it } from 'vitest';

const fixture = (name: string) => readFileSync(path.join(import.meta.dirname, 'fixtures', name), 'utf8');

describe('schema documentation completeness', () => {
  it.each(SUBGRAPH_SDL_FILES.map((file) => [path.relative(REPO_ROOT, file), file]))(
    '%s: every type, field, argument and enum value is described, every deprecation has a reason',
    (_name, file) => {
      expect(findUndocumented(readFileSync(file, 'utf8'))).toEqual([]);
    },
  );

  it('reports each kind of gap in a fixture SDL (so the check can fail), but not federation plumbing or root types', () => {
    expect(findUndocumented(fixture('undocumented.graphql'))).toEqual([
      'Undescribed: missing description',
      'Undescribed.bare: missing description',
      'Undescribed.blank: missing description',
      'Undescribed.legacy: @deprecated without a reason',
      'Undescribed.withArgs(missing:): missing description',
      'Mode.OFF: missing description',
      'Mode.LEGACY: @deprecated without a reason',
      'Undocumented: missing description',
      'Filter: missing description',
      'Filter.text: missing description',
      'Query.undocumented: missing description',
      'Documented.extra: missing description',
    ]);
  });

  it('checks directive definitions and root types renamed by a schema definition', () => {
    const sdl = `
      schema { query: Root }
      type Root { "Described." a: Int }
      directive @tag(name: String) on FIELD_DEFINITION
    `;
    expect(findUndocumented(sdl)).toEqual(['@tag: missing description', '@tag(name:): missing description']);
  });

  it('documents the client-facing API schema: no federation plumbing, and the descriptions survive composition', () => {
    const schema = apiSchema();
    const sdl = apiSdl(schema);
    for (const plumbing of ['_entities', '_service', '_Any', 'join__', 'link__', '@key', '@link', 'FieldSet']) expect(sdl).not.toContain(plumbing);
    const undescribed: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || isSpecifiedScalarType(type)) continue;
      if (!type.description && type !== schema.getQueryType()) undescribed.push(type.name);
      if (isObjectType(type) || isInterfaceType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description) undescribed.push(`${type.name}.${field.name}`);
          for (const arg of field.args) if (!arg.description) undescribed.push(`${type.name}.${field.name}(${arg.name}:)`);
          expect(getNamedType(field.type).name).not.toMatch(/^(join|link)__/);
        }
      }
      if (isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) if (!field.description) undescribed.push(`${type.name}.${field.name}`);
      }
      if (isEnumType(type)) for (const value of type.getValues()) if (!value.description) undescribed.push(`${type.name}.${value.name}`);
    }
    expect(undescribed).toEqual([]);
  });
});
