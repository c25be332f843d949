// Types for the operations in src/operations.graphql, from the schema committed at the
// root of the repository (the same file a test compares with the server's).
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: '../../schema.graphql',
  documents: ['src/operations.graphql'],
  generates: {
    'src/generated/': {
      preset: 'client',
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        // The schema's own scalars travel as strings.
        scalars: { CountryCode: 'string', DateTime: 'string' },
      },
    },
  },
};

export default config;
