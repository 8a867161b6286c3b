/** Not served yet. */
export const handler = async (): Promise<void> => {};
