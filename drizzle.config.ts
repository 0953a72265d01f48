import { defineConfig } from 'drizzle-kit'

// Migrations are generated from the tables and committed as SQL; PGlite and PostgreSQL run the same files.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './src/db/migrations',
})
