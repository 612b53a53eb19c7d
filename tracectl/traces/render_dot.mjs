// DOT text on stdin -> SVG on stdout, laid out by Graphviz's `dot` (npm @viz-js/viz: Graphviz as WebAssembly).
// tracectl/traces/service_map.py runs this with Node; nothing else reads it.
import { instance } from "@viz-js/viz";

let dot = "";
for await (const chunk of process.stdin) dot += chunk;
const viz = await instance();
const result = viz.render(dot, { format: "svg", engine: "dot" });
if (result.status !== "success") {
  for (const error of result.errors) console.error(error.message);
  process.exit(1);
}
process.stdout.write(result.output);
