// sphinxcontrib-mermaid imports mermaid as an ES module. The classic build (mermaid.min.js, loaded by
// html_js_files) works over file:// as well as http://, so hand that one to the importer.
export default window.mermaid;
