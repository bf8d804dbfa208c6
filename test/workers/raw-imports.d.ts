/** Vite's `?raw` imports: a file's text (the suites read site/public/_headers this way). */
declare module "*?raw" {
  const text: string;
  export default text;
}
