// The built-in templates, compiled ahead. Empty here: scripts/bundle-
// controller.mjs fills it in the bundle with precompileTemplates' output as
// code, which V8's code cache then holds. Compiling the templates at every run
// cost 14-19 ms of an apply's start. A template is used only while its text is
// the one compiled (sha256), so an edited or overriding template is compiled
// from its text as before. (TemplateSpecification: a global of handlebars' types.)

export interface PrecompiledTemplate {
  sha256: string;
  spec: TemplateSpecification;
}

export const PRECOMPILED: Readonly<Record<string, PrecompiledTemplate>> = {};
