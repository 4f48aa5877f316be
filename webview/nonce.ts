/**
 * Imported first, before anything that creates elements. The page's CSP
 * admits only styles carrying its nonce, and xterm.js creates `<style>`
 * elements without one (xterm.js #4445, #4133): every `<style>` gets the
 * nonce at creation, before it is inserted — an observer would see it only
 * after insertion, too late. Style attributes set as markup
 * (`setAttribute('style', …)`, which xterm's DOM renderer uses for 24-bit
 * colours) would be refused by the same policy; they go through the CSSOM
 * instead, which the policy does not govern. The policy itself stays strict.
 */
const nonce = (document.currentScript as HTMLScriptElement | null)?.nonce ?? '';

const createElement = document.createElement;
document.createElement = function (this: Document, tagName: string, options?: ElementCreationOptions) {
  const element = createElement.call(this, tagName, options);
  if (element instanceof HTMLStyleElement) {
    element.nonce = nonce;
    element.setAttribute('nonce', nonce);
  }
  return element;
} as typeof document.createElement;

const setAttribute = Element.prototype.setAttribute;
Element.prototype.setAttribute = function (this: Element, name: string, value: string) {
  if (name.toLowerCase() === 'style' && this instanceof HTMLElement) {
    this.style.cssText = String(value);
    return;
  }
  setAttribute.call(this, name, value);
};

export const pageNonce = nonce;
