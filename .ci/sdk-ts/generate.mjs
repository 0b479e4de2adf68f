// Generate TypeScript types from the served OpenAPI schema with openapi-typescript: files (format: binary) are
// Blobs, as FormData takes them (openapi-typescript's documented transform). Usage: node generate.mjs URL OUT
import fs from "node:fs";
import openapiTS, { astToString } from "openapi-typescript";
import ts from "typescript";

const BLOB = ts.factory.createTypeReferenceNode(ts.factory.createIdentifier("Blob"));
const NULL = ts.factory.createLiteralTypeNode(ts.factory.createNull());

const ast = await openapiTS(new URL(process.argv[2]), {
  transform(schemaObject) {
    if (schemaObject.format === "binary") {
      return schemaObject.nullable ? ts.factory.createUnionTypeNode([BLOB, NULL]) : BLOB;
    }
    return undefined;
  },
});
fs.writeFileSync(process.argv[3], astToString(ast));
