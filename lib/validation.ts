import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";

// ajv-formats is CommonJS; its default export arrives wrapped when loaded from ESM.
type AddFormats = (ajv: Ajv, options: { mode: "fast" | "full" }) => Ajv;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ??
  addFormatsModule) as unknown as AddFormats;

/** The one ajv instance of the service: every request and file-row schema compiles here, once. */
export const ajv = new Ajv({
  allErrors: true,
  strict: true,
  coerceTypes: false,
  // Unknown keys are discarded wherever a schema says `additionalProperties: false`.
  removeAdditional: true,
});
addFormats(ajv, { mode: "full" });

const compiled = new WeakMap<object, ValidateFunction>();

/** Compiles `schema` on first use and keeps the validator for the container's life. */
export function validatorFor<T>(schema: object): ValidateFunction<T> {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate as ValidateFunction<T>;
}

/** Name of the field an ajv error is about (`Email`, `Payload.text`, ...). */
export function errorField(error: ErrorObject): string {
  const path = error.instancePath
    .split("/")
    .slice(1)
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"));
  if (error.keyword === "required") path.push(String(error.params.missingProperty));
  if (error.keyword === "additionalProperties") path.push(String(error.params.additionalProperty));
  return path.join(".");
}

/** One readable sentence per ajv error. */
export function describeError(error: ErrorObject): string {
  const field = errorField(error) || "value";
  switch (error.keyword) {
    case "required":
      return `${field} is required`;
    case "additionalProperties":
      return `${field} is not a known field`;
    case "enum":
      return `${field} must be one of: ${(error.params.allowedValues as unknown[]).map(String).join(", ")}`;
    case "format":
      return `${field} must be a valid ${error.params.format}`;
    case "type":
      return `${field} must be ${error.params.type === "null" ? "null" : `a ${error.params.type}`}`;
    default:
      return `${field} ${error.message ?? "is invalid"}`;
  }
}
