/**
 * Text for VS Code notifications. VS Code turns `[label](https:…|command:…|file:…)` in a notification's
 * message into a link it opens with commands allowed (workbench `parseLinkedText`), so text from agents
 * must not be able to form one, and Baton's own action links are built here.
 */

/**
 * Outside text made inert for a notification: whitespace runs become one space and `[` `]` become
 * their full-width forms `［` `］`, so no link can start or end inside it.
 */
export function plainNotificationText(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/\[/g, '［').replace(/\]/g, '］');
}

/** A command link for a notification's message: `[label](command:id?<JSON args, URI-encoded>)`. */
export function commandLink(label: string, command: string, ...args: unknown[]): string {
  return `[${label}](command:${command}${args.length ? `?${encodeURIComponent(JSON.stringify(args))}` : ''})`;
}
