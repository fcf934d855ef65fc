import {
  Kind,
  parse,
  type ConstDirectiveNode,
  type DefinitionNode,
  type FieldDefinitionNode,
  type InputValueDefinitionNode,
  type StringValueNode,
} from 'graphql';

const ROOT_TYPES = ['Query', 'Mutation', 'Subscription'];

const described = (node: { description?: StringValueNode | undefined }): boolean => (node.description?.value.trim() ?? '') !== '';

/** `@deprecated` without a `reason:` falls back to graphql's "No longer supported", which tells a client nothing. */
function deprecationProblem(where: string, directives: readonly ConstDirectiveNode[] | undefined): string[] {
  const deprecated = directives?.find((d) => d.name.value === 'deprecated');
  if (!deprecated) return [];
  const reason = deprecated.arguments?.find((a) => a.name.value === 'reason')?.value;
  return reason?.kind === Kind.STRING && reason.value.trim() !== '' ? [] : [`${where}: @deprecated without a reason`];
}

function inputValueProblems(where: string, value: InputValueDefinitionNode): string[] {
  return [...(described(value) ? [] : [`${where}: missing description`]), ...deprecationProblem(where, value.directives)];
}

function fieldProblems(typeName: string, field: FieldDefinitionNode): string[] {
  const where = `${typeName}.${field.name.value}`;
  return [
    ...(described(field) ? [] : [`${where}: missing description`]),
    ...deprecationProblem(where, field.directives),
    ...(field.arguments ?? []).flatMap((arg) => inputValueProblems(`${where}(${arg.name.value}:)`, arg)),
  ];
}

function definitionProblems(definition: DefinitionNode, rootTypes: string[]): string[] {
  switch (definition.kind) {
    // Federation plumbing (`extend schema @link(...)`) and operations are not part of the documented API.
    case Kind.SCHEMA_DEFINITION:
    case Kind.SCHEMA_EXTENSION:
    case Kind.OPERATION_DEFINITION:
    case Kind.FRAGMENT_DEFINITION:
      return [];
    case Kind.DIRECTIVE_DEFINITION: {
      const where = `@${definition.name.value}`;
      return [
        ...(described(definition) ? [] : [`${where}: missing description`]),
        ...(definition.arguments ?? []).flatMap((arg) => inputValueProblems(`${where}(${arg.name.value}:)`, arg)),
      ];
    }
    case Kind.OBJECT_TYPE_DEFINITION:
    case Kind.INTERFACE_TYPE_DEFINITION:
    case Kind.OBJECT_TYPE_EXTENSION:
    case Kind.INTERFACE_TYPE_EXTENSION: {
      const name = definition.name.value;
      // A root type's own description is shown nowhere (every subgraph repeats `type Query`); its fields are the API.
      const needsDescription =
        (definition.kind === Kind.OBJECT_TYPE_DEFINITION || definition.kind === Kind.INTERFACE_TYPE_DEFINITION) && !rootTypes.includes(name);
      return [
        ...(needsDescription && !described(definition) ? [`${name}: missing description`] : []),
        ...(definition.fields ?? []).flatMap((field) => fieldProblems(name, field)),
      ];
    }
    case Kind.INPUT_OBJECT_TYPE_DEFINITION:
    case Kind.INPUT_OBJECT_TYPE_EXTENSION: {
      const name = definition.name.value;
      return [
        ...(definition.kind === Kind.INPUT_OBJECT_TYPE_DEFINITION && !described(definition) ? [`${name}: missing description`] : []),
        ...(definition.fields ?? []).flatMap((field) => inputValueProblems(`${name}.${field.name.value}`, field)),
      ];
    }
    case Kind.ENUM_TYPE_DEFINITION:
    case Kind.ENUM_TYPE_EXTENSION: {
      const name = definition.name.value;
      return [
        ...(definition.kind === Kind.ENUM_TYPE_DEFINITION && !described(definition) ? [`${name}: missing description`] : []),
        ...(definition.values ?? []).flatMap((value) => {
          const where = `${name}.${value.name.value}`;
          return [...(described(value) ? [] : [`${where}: missing description`]), ...deprecationProblem(where, value.directives)];
        }),
      ];
    }
    case Kind.SCALAR_TYPE_DEFINITION:
    case Kind.UNION_TYPE_DEFINITION:
      return described(definition) ? [] : [`${definition.name.value}: missing description`];
    default:
      // scalar and union extensions add only directives or members
      return [];
  }
}

/**
 * What a client would find undocumented in a subgraph's SDL: every type,
 * field, argument, input field and enum value needs a non-empty description,
 * and every `@deprecated` a reason. Returns one line per problem, e.g.
 * `Coin.symbol: missing description`; an empty list means complete.
 */
export function findUndocumented(sdl: string): string[] {
  const document = parse(sdl, { noLocation: true });
  const rootTypes = [...ROOT_TYPES];
  for (const definition of document.definitions) {
    if (definition.kind === Kind.SCHEMA_DEFINITION || definition.kind === Kind.SCHEMA_EXTENSION) {
      for (const operation of definition.operationTypes ?? []) rootTypes.push(operation.type.name.value);
    }
  }
  return document.definitions.flatMap((definition) => definitionProblems(definition, rootTypes));
}
