import type { FromSchema } from "json-schema-to-ts";

/**
 * The `Payload` of each comment type, following the chat platform's post-comment payload
 * formats. Fields a client needs to render the message are required; anything else the
 * platform's clients put in a payload is kept (except for `reply`, whose payload the service
 * rewrites). Nullable strings accept the `null` many clients send for "not set".
 */

export const COMMENT_TYPES = [
  "text",
  "reply",
  "file_attachment",
  "custom",
  "buttons",
  "card",
  "carousel",
  "location",
  "contact_person",
  "account_linking",
  "button_postback_response",
  "system_event",
] as const;

export type CommentType = (typeof COMMENT_TYPES)[number];

const webUrl = {
  type: "string",
  minLength: 1,
  maxLength: 2048,
  pattern: "^https?://\\S+$",
} as const;

/** `text`: no payload at all (null or absent). */
export const textPayloadSchema = { $id: "payload-text", type: "null" } as const;

/** `reply`: clients send `replied_comment_id: 1`; the stored payload gets the parent's real id. */
export const replyPayloadSchema = {
  $id: "payload-reply",
  type: "object",
  properties: {
    text: { type: "string", maxLength: 4000 },
    replied_comment_id: { type: "integer" },
  },
  required: ["text", "replied_comment_id"],
  additionalProperties: false,
} as const;

/** `file_attachment`: the file's URL; the message text is the caption. */
export const fileAttachmentPayloadSchema = {
  $id: "payload-file-attachment",
  type: "object",
  properties: {
    url: webUrl,
    caption: { type: "string", nullable: true, maxLength: 4000 },
    file_name: { type: "string", nullable: true, maxLength: 1024 },
    size: { type: "integer", nullable: true, minimum: 0 },
    pages: { type: "integer", nullable: true, minimum: 0 },
  },
  required: ["url"],
} as const;

/** `custom`: the application's own message type and any JSON content. */
export const customPayloadSchema = {
  $id: "payload-custom",
  type: "object",
  properties: {
    type: { type: "string", minLength: 1, maxLength: 255 },
    content: {},
  },
  required: ["type", "content"],
} as const;

/** One button of `buttons` and `card`: `postback` sends text back, `link` opens `payload.url`. */
const button = {
  type: "object",
  properties: {
    label: { type: "string", minLength: 1, maxLength: 255 },
    type: { type: "string", enum: ["postback", "link"] },
    postback_text: { type: "string", nullable: true, maxLength: 4000 },
    payload: {
      type: "object",
      properties: {
        url: { type: "string", nullable: true, maxLength: 2048 },
        method: { type: "string", nullable: true, maxLength: 16 },
        payload: {},
      },
    },
  },
  required: ["label", "type", "payload"],
} as const;

export const buttonsPayloadSchema = {
  $id: "payload-buttons",
  type: "object",
  properties: {
    text: { type: "string", maxLength: 4000 },
    buttons: { type: "array", items: button, minItems: 1, maxItems: 100 },
  },
  required: ["text", "buttons"],
} as const;

const card = {
  type: "object",
  properties: {
    text: { type: "string", nullable: true, maxLength: 4000 },
    image: { type: "string", maxLength: 2048 },
    title: { type: "string", minLength: 1, maxLength: 1024 },
    description: { type: "string", maxLength: 4000 },
    url: { type: "string", nullable: true, maxLength: 2048 },
    buttons: { type: "array", items: button, maxItems: 100 },
  },
  required: ["image", "title", "description"],
} as const;

/** `card`: an image, a title, a description and optional buttons. */
export const cardPayloadSchema = { $id: "payload-card", ...card } as const;

/** `carousel`: a row of cards. */
export const carouselPayloadSchema = {
  $id: "payload-carousel",
  type: "object",
  properties: { cards: { type: "array", items: card, minItems: 1, maxItems: 100 } },
  required: ["cards"],
} as const;

/** `location`: a named place with its coordinates. */
export const locationPayloadSchema = {
  $id: "payload-location",
  type: "object",
  properties: {
    name: { type: "string", maxLength: 1024 },
    address: { type: "string", maxLength: 4000 },
    latitude: { type: "number", minimum: -90, maximum: 90 },
    longitude: { type: "number", minimum: -180, maximum: 180 },
    map_url: { type: "string", nullable: true, maxLength: 2048 },
  },
  required: ["name", "address", "latitude", "longitude"],
} as const;

/** `contact_person`: a name and a phone number or e-mail address. */
export const contactPersonPayloadSchema = {
  $id: "payload-contact-person",
  type: "object",
  properties: {
    name: { type: "string", minLength: 1, maxLength: 255 },
    value: { type: "string", minLength: 1, maxLength: 255 },
    type: { type: "string", enum: ["phone", "email"] },
  },
  required: ["name", "value", "type"],
} as const;

/** `account_linking`: a page where the user links an account, and where it returns. */
export const accountLinkingPayloadSchema = {
  $id: "payload-account-linking",
  type: "object",
  properties: {
    url: webUrl,
    redirect_url: { type: "string", nullable: true, maxLength: 2048 },
    params: {
      type: "object",
      properties: {
        user_id: {},
        topic_id: {},
        button_text: { type: "string", nullable: true, maxLength: 255 },
        view_title: { type: "string", nullable: true, maxLength: 255 },
      },
    },
  },
  required: ["url"],
} as const;

/** `button_postback_response`: what a postback button sent back (its payload), or nothing. */
export const buttonPostbackResponsePayloadSchema = {
  $id: "payload-button-postback-response",
  type: "object",
  nullable: true,
} as const;

/** `system_event`: room events such as a member joining; `type` names the event. */
export const systemEventPayloadSchema = {
  $id: "payload-system-event",
  type: "object",
  properties: {
    type: {
      type: "string",
      enum: [
        "create_room",
        "add_member",
        "join_room",
        "remove_member",
        "left_room",
        "change_room_name",
        "change_room_avatar",
        "custom",
      ],
    },
    subject_username: { type: "string", nullable: true },
    subject_email: { type: "string", nullable: true },
    object_username: { type: "string", nullable: true },
    object_email: { type: "string", nullable: true },
    room_name: { type: "string", nullable: true },
    message: { type: "string", nullable: true },
  },
  required: ["type"],
} as const;

/** The payload schema of each comment type. */
export const PAYLOAD_SCHEMAS: Record<CommentType, object> = {
  text: textPayloadSchema,
  reply: replyPayloadSchema,
  file_attachment: fileAttachmentPayloadSchema,
  custom: customPayloadSchema,
  buttons: buttonsPayloadSchema,
  card: cardPayloadSchema,
  carousel: carouselPayloadSchema,
  location: locationPayloadSchema,
  contact_person: contactPersonPayloadSchema,
  account_linking: accountLinkingPayloadSchema,
  button_postback_response: buttonPostbackResponsePayloadSchema,
  system_event: systemEventPayloadSchema,
};

export type ReplyPayload = FromSchema<typeof replyPayloadSchema>;
