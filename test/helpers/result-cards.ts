import type { Page } from 'playwright-core';

// The in-page callbacks run in Chromium; the project compiles without the DOM lib.
type Dom = any; // eslint-disable-line @typescript-eslint/no-explicit-any
declare const document: Dom;

/** A result card of the serve page (web/app.js's showResult), as the page shows it. */
export interface Card {
  state: string;
  mode: string;
  label: string;
  cls: string;
  probability: number;
  /** The probability's text, e.g. "P(smoking) 73.1%". */
  prob: string;
  /** Whether the threshold mark is hidden (it is with more than two classes). */
  markHidden: boolean;
  meta: string;
  overlay: boolean;
  alt: string;
  name: string;
}

/** The serve page's result cards, newest first, once `count` of them are finished (done or error). */
export async function resultCards(page: Page, count: number, withOverlay = 0): Promise<Card[]> {
  await page.waitForFunction(
    ([n, o]) =>
      document.querySelectorAll('.result:not([data-state="pending"])').length >= n &&
      document.querySelectorAll('.result[data-overlay="yes"]').length >= o,
    [count, withOverlay],
    { timeout: 120_000 },
  );
  return page.$$eval('.result', (lis) =>
    lis.map((li) => {
      const el = li as Dom;
      const img = el.querySelector('img') as Dom;
      return {
        state: el.dataset.state ?? '',
        mode: el.dataset.mode ?? '',
        label: el.dataset.label ?? '',
        cls: el.dataset.class ?? '',
        probability: Number(el.dataset.probability),
        prob: el.querySelector('.prob').textContent ?? '',
        markHidden: Boolean(el.querySelector('.mark').hidden),
        meta: el.querySelector('.meta').textContent ?? '',
        overlay: el.dataset.overlay === 'yes' && img.complete && img.naturalWidth > 0,
        alt: img.alt,
        name: el.querySelector('.name').textContent ?? '',
      };
    }),
  );
}
