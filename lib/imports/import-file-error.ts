/** Why an import file cannot be read as rows at all: one sentence for `errors.Message`. */
export class ImportFileError extends Error {
  override name = "ImportFileError";
}
