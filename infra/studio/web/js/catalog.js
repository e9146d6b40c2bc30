// What the pages say about each choice (the API validates the values; shared/script/prompts.py has the
// prompt text each style sends to the models).

export const STYLES = {
  cinematic: ["Cinematic", "Film look: wide framing, shallow focus, warm colours."],
  anime: ["Anime", "Hand-drawn look with clean lines and vivid colours."],
  realistic: ["Realistic", "Documentary feel, natural light, handheld camera."],
  sketch: ["Sketch", "Pencil drawings on paper, black and white."],
  cyberpunk: ["Cyberpunk", "Neon city at night, rain, magenta and cyan."],
  vintage: ["Vintage", "1970s film: grain, faded colours, soft edges."],
  fantasy: ["Fantasy", "Painted epic worlds with glowing magic."],
};

export const LANGUAGES = { en: "English", fr: "Français", es: "Español" };

export const PRESETS = {
  quick_social: ["Quick social", "30–50 s, fast and cheap, for social feeds."],
  brand_campaign: ["Brand campaign", "60–90 s, standard Veo, checked loudness and subtitles."],
  premium_spot: ["Premium spot", "60–90 s, best encode, every quality check, extra 720p file."],
};
