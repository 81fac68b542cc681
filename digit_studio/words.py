"""Every word the page shows a visitor, in English and in Brazilian Portuguese: one table per language, each string
keyed by a stable name. Section modules name keys, never sentences.

    words.text("verdict_both", "pt-BR", digit="7")     # "Os dois modelos dizem **7**."
    words.language("pt-BR,pt;q=0.9,en;q=0.8")          # "pt-BR": the visitor's language, from Accept-Language
    words.translate(message, "pt-BR")                  # one of the studio's English messages, in Portuguese

Portuguese for a browser whose first language is any Portuguese, English for every other. A key missing from a
table falls back to English, never to the key. Numbers follow the language: 0.5 and 1,000 in English, 0,5 and 1.000
in Portuguese. The API's words (gradio_client, JSON, MCP) stay English: programs parse them.
"""

import re
import string

ENGLISH = "en"
PORTUGUESE = "pt-BR"
LANGUAGES = (ENGLISH, PORTUGUESE)

# Figures alone, the same in both tables: each language's formatter writes the numbers its way (text())
NUMBERS = {
    "percent": "{share:.1%}",
    "percent_2": "{share:.2%}",
    "count": "{count:,}",
    "loss": "{loss:.4f}",
    "auroc": "{value:.3f}",
    "milliseconds": "{value:.2f} ms",
    "accuracy_change": "{before:.2%} → {after:.2%}",
}

EN = {
    **NUMBERS,
    "title": "Handwritten-digit studio",
    "language_switch": "Language",
    "other_language": "Português",
    "intro": (
        "# Handwritten-digit studio\nDraw a digit or upload a photo: a LeNet-style CNN and a plain dense network "
        "each say which digit they see, how sure they are, or that it is no digit they know. (The dense network is "
        'the original teaching project\'s "linear" model.)'
    ),
    "tab_draw": "Draw",
    "tab_upload": "Upload",
    "canvas_digit": "Drawing area: draw one digit with a mouse, a finger or a pen",
    "upload_digit": "Upload a photo of a digit (no drawing needed)",
    "drawing_tools": "Drawing tools",
    "brush": "Brush",
    "eraser": "Eraser",
    "undo": "Undo",
    "clear": "Clear",
    "hint": "Draw a digit on the canvas, or upload a photo of one.",
    "examples_digits": "Examples: MNIST digits and synthetic photos, scans, drawings",
    "example": "Example",
    "seen_caption": "What the models see (28x28)",
    "input_alt": "28x28 input",
    "answer_status": "The models' answer",
    "timing": "CNN {cnn:.1f} ms · dense network {linear:.1f} ms on the server",
    "several_digits": "This picture seems to hold {count} digits: to read them all, use **Read a number** below.",
    "model_cnn": "CNN",
    "model_linear": "dense network",
    "title_cnn": "CNN",
    "title_linear": "Dense network",
    "title_wide_cnn": "Write-up's wide CNN",
    "the_cnn": "the CNN",
    "the_linear": "the dense network",
    "verdict_both": "Both models say **{digit}**.",
    "verdict_disagree": "The models disagree: the CNN says **{cnn}**, the dense network **{linear}**.",
    "verdict_neither": "That doesn't look like a digit: neither model knows it.",
    "verdict_noticed": "That doesn't look like a digit: {noticed} noticed ({other} would say **{label}**).",
    "card_no_answer": "no answer yet",
    "card_sure": "{confidence:.0%} sure",
    "card_not_a_digit": "not a digit I know",
    "card_best_guess": "best guess {label}, {confidence:.0%}",
    "card_all_ten": "all ten",
    "card_score": "digit score {score:.2f} ({threshold:.1f} or more: a digit it knows)",
    "card_bar": "{label}: {share:.0%}",
    "correction_note": (
        "**Was it right?** Your answer helps retrain the models. Kept: the 28x28 image the models saw (a drawing's "
        "strokes too), both answers, your label and the time; never your photo as sent, nothing about you; {where}."
    ),
    "kept_on_hub": "pushed every few minutes to the Hugging Face dataset {repo}",
    "kept_here": "kept on this server only",
    "right": "Right",
    "not_a_digit": "Not a digit",
    "it_was_a": "It was a ...",
    "kept_as_digit": "Thank you: kept as a {label}.",
    "kept_as_not_a_digit": "Thank you: kept as not a digit.",
    "no_answer": "Draw or upload a digit first; then say what it was.",
    "models_disagree": "The models disagree: choose the digit it was under It was a...",
    "corrections_off": "Corrections are not switched on for this server.",
    "correction_label": 'A correction\'s label is a digit from 0 to 9, or "{not_a_digit}".',
    "correction_flood": "That is {count:,} corrections in {minutes} minutes: thank you! Please wait a few minutes.",
    "correction_day": "That is {count:,} corrections in a day: thank you! Please come back tomorrow.",
    "correction_busy": (
        "Corrections are paused: the studio has taken {count:,} in {minutes} minutes. Please try again in a few "
        "minutes."
    ),
    "correction_busy_day": (
        "Corrections are paused: the studio has taken {count:,} in a day. Please come back tomorrow."
    ),
    "correction_full": "Corrections are closed: the collection is full ({count:,} corrections).",
    "correction_storage": (
        "Corrections cannot be saved right now (the server cannot write them); the answers still work."
    ),
    "correction_too_large": "That drawing is too large to keep.",
    "number_heading": (
        "## Read a number\nEvery digit, left to right, by both models in one batch each; a piece where they "
        "disagree, either is under {unsure:.0%} sure or either sees no digit (a ?) is outlined for a second look."
    ),
    "number_hint": "Write a number on the wide canvas, or upload a photo of one: each digit is read by both models.",
    "tab_draw_number": "Draw a number",
    "tab_upload_number": "Upload a number",
    "canvas_number": "Drawing area: write a number with a mouse, a finger or a pen",
    "upload_number": "Upload a photo of a number (no drawing needed)",
    "clear_number": "Clear the number",
    "number_views": "Each digit as the models see it (28x28)",
    "number_json": "As the API returns it (JSON)",
    "examples_numbers": "Examples: a drawn and a photographed number",
    "piece_not_a_digit": "? (not a digit it knows; best guess {label})",
    "piece_check": "check",
    "piece_alt": "digit {index} as the models see it",
    "number_both": "Both models read **{number}**.",
    "number_differ": "The CNN reads **{cnn}**, the dense network **{linear}**.",
    "number_check": (
        "Check piece {pieces}: the models disagree, one is under {unsure:.0%} sure, or one does not take it for a "
        'digit ("?").'
    ),
    "number_timing": "{count} digits · both models {milliseconds:.1f} ms",
    "number_correction_note": "**Was it right?** As for a single digit, each piece is kept with its label.",
    "it_was": "It was",
    "it_was_placeholder": "the number; ? for a piece that is no digit",
    "keep": "Keep",
    "number_no_answer": "Write or upload a number first; then say what it was.",
    "number_read_differently": "The models read it differently: type the number it was.",
    "number_type_digits": "Type one digit per piece, {count} in all, with ? for a piece that is no digit.",
    "number_kept": "Thank you: kept {count} pieces as {labels}.",
    "why": "Why they differ",
    "why_intro": (
        "Where each model found its evidence, what is inside each network, and where each breaks: move the input "
        "with the controls (they move the digit after preprocessing has centred it) and watch both answers."
    ),
    "stress_shift_x": "shift right (px)",
    "stress_shift_y": "shift down (px)",
    "stress_rotation": "rotate anticlockwise (degrees)",
    "stress_scale": "scale",
    "stress_thickness": "thicken (+) or thin (-)",
    "stress_reset": "Reset to the input as drawn",
    "what_models_see": "what the models see",
    "number": "{value:.1f}",
    "evidence_alt": "{model} evidence",
    "evidence_caption": "{model}: {label} ({confidence:.1%})<br>digit score {score:.2f}",
    "evidence_not_a_digit": ": not a digit it knows",
    "evidence_legend": (
        "<b>red</b>: ink that pushed the model toward its answer; <b>blue</b>: ink that pushed against it (each map "
        "on its own scale). Occlusion: each 2x2 block of ink is blanked in turn, and the map shows how much less "
        "sure the model became."
    ),
    "insides_first": "<b>CNN, first convolution</b>: 32 maps of 28x28, one per 5x5 filter, brighter where it responds.",
    "insides_first_alt": "CNN first-layer feature maps",
    "insides_second": "<b>CNN, second convolution</b>: 48 maps of 10x10, each combining the first layer's maps nearby.",
    "insides_second_alt": "CNN second-layer feature maps",
    "insides_dense": (
        "<b>Dense network</b>: its {count} most active first-layer units ({units}), each drawn as its 784 weights: "
        "red pixels add to the unit, blue subtract, wherever the ink falls."
    ),
    "insides_dense_alt": "dense first-layer templates",
    "experiments_heading": "### The experiments",
    "robustness": (
        "Accuracy on all {count:,} MNIST test digits, each moved or turned after preprocessing has centred it:"
    ),
    "model": "model",
    "shift": "shift {value} px",
    "rotation": "rotation {value}°",
    "permuted": (
        "**Pixels shuffled.** Both architectures retrained on MNIST with one fixed permutation of the 784 pixels "
        "(seed {seed}): {scores}. A dense network's first layer sees every pixel alike, so shuffling them changes "
        "nothing it can use; the CNN's neighbourhoods no longer mean anything."
    ),
    "permuted_shorter": " (a shorter training: {epochs} epochs, not {committed})",
    "permuted_unmeasured": "**Pixels shuffled:** not measured for these weights.",
    "robustness_figure": "Accuracy under shift and rotation",
    "mistakes_heading": "### Mistakes on the test set (click one to explain it above)",
    "mistakes_kind": "Show the test digits where",
    "mistakes": "Mistakes",
    "only_cnn_right": "only the CNN right",
    "only_linear_right": "only the dense network right",
    "both_wrong": "both wrong",
    "cnn_mistakes": "all the CNN's mistakes",
    "linear_mistakes": "all the dense network's mistakes",
    "mistake_caption": "test #{index}: {label}; CNN {cnn}, dense {linear}",
    "no_such_mistake": "That gallery entry does not exist; pick a digit from the gallery.",
    "compare": "How the two models compare",
    "compare_header": (
        "| model | parameters | accuracy | loss | scored on (MNIST) | training on a 2-core CPU "
        "| latency per image (this server) |"
    ),
    "epochs": "{epochs} epochs, {time}",
    "minutes": "{minutes:.0f} min",
    "hours": "{hours:.1f} h",
    "not_on_this_page": "not on this page",
    "images_test": "{count:,} test images",
    "images_validation": "{count:,} validation images",
    "curves_figure": "Accuracy and loss per epoch",
    "confusion": "**Confusion matrix: {model}**",
    "honesty": (
        "**Does each model know when it does not know?** A model that says 90% should be right 9 times in 10: "
        "the calibration error is the gap between the two, before and after each model's confidences are "
        "softened or sharpened to fit digits it was not trained on. Its digit score tells a drawing it knows from "
        "a letter, a doodle or a scribble (AUROC: 1.0 always tells them apart, 0.5 is a coin toss)."
    ),
    "honesty_header": (
        "| model | calibration error (MNIST test) | AUROC, digits vs non-digits | non-digits flagged "
        "| MNIST test digits flagged | handwriting flagged |"
    ),
    "the_studio": "the studio (either model)",
    "honesty_figure": "How sure vs how often right, and the digit score on digits and non-digits",
    "no_digit": "No digit found: draw or upload a dark digit on a light background (or a light one on dark).",
    "no_image": "No digit found: no image was sent. Send one file ({formats}).",
    "not_an_image": "That file is not an image this app can read: use {formats}.",
    "too_large": "That image is over the limit of {megapixels} megapixels; please send a smaller one.",
    "too_large_in_all": ("That image is over the limit of {megapixels} megapixels in all; please send a smaller one."),
    "damaged": "That image file is damaged or incomplete; please upload it again.",
    "server_fault": "Something went wrong on our side; please try again.",
}

PT_BR = {
    **NUMBERS,
    "title": "Estúdio de dígitos escritos à mão",
    "language_switch": "Idioma",
    "other_language": "English",
    "intro": (
        "# Estúdio de dígitos escritos à mão\nDesenhe um dígito ou envie uma foto: uma CNN no estilo LeNet e uma "
        "rede densa simples dizem, cada uma, qual dígito enxergam e com quanta certeza, ou avisam que não é um "
        'dígito que conheçam. (A rede densa é o modelo "linear" do projeto didático original.)'
    ),
    "tab_draw": "Desenhar",
    "tab_upload": "Enviar foto",
    "canvas_digit": "Área de desenho: desenhe um dígito com o mouse, o dedo ou uma caneta",
    "upload_digit": "Envie a foto de um dígito (sem precisar desenhar)",
    "drawing_tools": "Ferramentas de desenho",
    "brush": "Pincel",
    "eraser": "Borracha",
    "undo": "Desfazer",
    "clear": "Limpar",
    "hint": "Desenhe um dígito na tela ou envie a foto de um.",
    "examples_digits": "Exemplos: dígitos do MNIST e fotos, digitalizações e desenhos sintéticos",
    "example": "Exemplo",
    "seen_caption": "O que os modelos enxergam (28x28)",
    "input_alt": "entrada de 28x28",
    "answer_status": "A resposta dos modelos",
    "timing": "CNN {cnn:.1f} ms · rede densa {linear:.1f} ms no servidor",
    "several_digits": (
        "Parece que esta imagem tem {count} dígitos: para ler todos, use **Ler um número**, mais abaixo."
    ),
    "model_cnn": "CNN",
    "model_linear": "rede densa",
    "title_cnn": "CNN",
    "title_linear": "Rede densa",
    "title_wide_cnn": "CNN larga do relatório",
    "the_cnn": "a CNN",
    "the_linear": "a rede densa",
    "verdict_both": "Os dois modelos dizem **{digit}**.",
    "verdict_disagree": "Os modelos discordam: a CNN diz **{cnn}**; a rede densa, **{linear}**.",
    "verdict_neither": "Isso não parece um dígito: nenhum dos dois modelos o reconhece.",
    "verdict_noticed": "Isso não parece um dígito: {noticed} percebeu ({other} diria **{label}**).",
    "card_no_answer": "ainda sem resposta",
    "card_sure": "{confidence:.0%} de certeza",
    "card_not_a_digit": "não é um dígito que eu conheça",
    "card_best_guess": "palpite: {label}, {confidence:.0%}",
    "card_all_ten": "ver os dez",
    "card_score": "nota de dígito {score:.2f} ({threshold:.1f} ou mais: um dígito que ele conhece)",
    "card_bar": "{label}: {share:.0%}",
    "correction_note": (
        "**Acertou?** A sua resposta ajuda a treinar os modelos de novo. Guardamos a imagem de 28x28 que os modelos "
        "viram (e os traços, se foi desenho), as duas respostas, a sua correção e a hora; nunca a foto que você "
        "enviou, nada sobre você; {where}."
    ),
    "kept_on_hub": "tudo enviado a cada poucos minutos para o conjunto de dados {repo} do Hugging Face",
    "kept_here": "tudo fica só neste servidor",
    "right": "Certo",
    "not_a_digit": "Não é dígito",
    "it_was_a": "Era um ...",
    "kept_as_digit": "Obrigado! Guardamos como {label}.",
    "kept_as_not_a_digit": "Obrigado! Guardamos como “não é dígito”.",
    "no_answer": "Primeiro desenhe ou envie um dígito; depois diga qual era.",
    "models_disagree": "Os modelos discordam: escolha em Era um ... o dígito certo.",
    "corrections_off": "As correções não estão ativadas neste servidor.",
    "correction_label": 'O rótulo de uma correção é um dígito de 0 a 9, ou "{not_a_digit}".',
    "correction_flood": "Já são {count:,} correções em {minutes} minutos: obrigado! Espere alguns minutos, por favor.",
    "correction_day": "Já são {count:,} correções em um dia: obrigado! Volte amanhã, por favor.",
    "correction_busy": (
        "As correções estão pausadas: o estúdio recebeu {count:,} em {minutes} minutos. Tente de novo daqui a alguns "
        "minutos."
    ),
    "correction_busy_day": (
        "As correções estão pausadas: o estúdio recebeu {count:,} em um dia. Volte amanhã, por favor."
    ),
    "correction_full": "As correções estão encerradas: a coleção está cheia ({count:,} correções).",
    "correction_storage": (
        "Não dá para guardar correções agora (o servidor não consegue gravá-las); as respostas continuam funcionando."
    ),
    "correction_too_large": "Esse desenho é grande demais para guardar.",
    "number_heading": (
        "## Ler um número\nCada dígito, da esquerda para a direita, lido pelos dois modelos, de uma vez só cada um. "
        "Ganha um contorno, para você conferir, o pedaço em que eles discordam, em que um deles tem menos de "
        "{unsure:.0%} de certeza ou em que um deles não vê dígito nenhum (um ?)."
    ),
    "number_hint": ("Escreva um número na tela larga ou envie a foto de um: cada dígito é lido pelos dois modelos."),
    "tab_draw_number": "Escrever um número",
    "tab_upload_number": "Enviar um número",
    "canvas_number": "Área de desenho: escreva um número com o mouse, o dedo ou uma caneta",
    "upload_number": "Envie a foto de um número (sem precisar desenhar)",
    "clear_number": "Limpar o número",
    "number_views": "Cada dígito como os modelos o enxergam (28x28)",
    "number_json": "Como a API devolve (JSON)",
    "examples_numbers": "Exemplos: um número desenhado e um fotografado",
    "piece_not_a_digit": "? (não é um dígito que ele conheça; palpite: {label})",
    "piece_check": "confira",
    "piece_alt": "o dígito {index} como os modelos o enxergam",
    "number_both": "Os dois modelos leem **{number}**.",
    "number_differ": "A CNN lê **{cnn}**; a rede densa, **{linear}**.",
    "number_check": (
        "Confira o pedaço {pieces}: os modelos discordam, um deles tem menos de {unsure:.0%} de certeza ou um deles "
        'não o toma por dígito ("?").'
    ),
    "number_timing": "{count} dígitos · os dois modelos em {milliseconds:.1f} ms",
    "number_correction_note": "**Acertou?** Como para um dígito só, cada pedaço é guardado com a sua correção.",
    "it_was": "Era",
    "it_was_placeholder": "o número; ? para um pedaço que não é dígito",
    "keep": "Guardar",
    "number_no_answer": "Primeiro escreva ou envie um número; depois diga qual era.",
    "number_read_differently": "Os modelos leram números diferentes: digite o número certo.",
    "number_type_digits": "Digite um dígito por pedaço, {count} ao todo, com ? para um pedaço que não é dígito.",
    "number_kept": "Obrigado! Guardamos {count} pedaços como {labels}.",
    "why": "Por que eles discordam",
    "why_intro": (
        "Onde cada modelo encontrou as suas pistas, o que há dentro de cada rede e onde cada uma falha: mexa na "
        "entrada com os controles (eles movem o dígito depois de o pré-processamento centralizá-lo) e acompanhe "
        "as duas respostas."
    ),
    "stress_shift_x": "deslocar para a direita (px)",
    "stress_shift_y": "deslocar para baixo (px)",
    "stress_rotation": "girar no sentido anti-horário (graus)",
    "stress_scale": "escala",
    "stress_thickness": "engrossar (+) ou afinar (-)",
    "stress_reset": "Voltar à entrada como foi desenhada",
    "what_models_see": "o que os modelos enxergam",
    "number": "{value:.1f}",
    "evidence_alt": "pistas da {model}",
    "evidence_caption": "{model}: {label} ({confidence:.1%})<br>nota de dígito {score:.2f}",
    "evidence_not_a_digit": ": não é um dígito que ela conheça",
    "evidence_legend": (
        "<b>vermelho</b>: tinta que empurrou o modelo para a resposta dele; <b>azul</b>: tinta que empurrou "
        "contra (cada mapa na sua própria escala). Oclusão: cada bloco de 2x2 de tinta é apagado por vez, e o "
        "mapa mostra quanto o modelo perdeu de certeza."
    ),
    "insides_first": (
        "<b>CNN, primeira convolução</b>: 32 mapas de 28x28, um por filtro de 5x5, mais claros onde ele responde."
    ),
    "insides_first_alt": "mapas de características da primeira camada da CNN",
    "insides_second": (
        "<b>CNN, segunda convolução</b>: 48 mapas de 10x10, cada um combinando os mapas vizinhos da primeira camada."
    ),
    "insides_second_alt": "mapas de características da segunda camada da CNN",
    "insides_dense": (
        "<b>Rede densa</b>: as {count} unidades mais ativas da primeira camada ({units}), cada uma desenhada com os "
        "seus 784 pesos: pixels vermelhos somam à unidade, azuis subtraem, onde quer que caia a tinta."
    ),
    "insides_dense_alt": "modelos da primeira camada da rede densa",
    "experiments_heading": "### Os experimentos",
    "robustness": (
        "Acurácia em todos os {count:,} dígitos de teste do MNIST, cada um deslocado ou girado depois de o "
        "pré-processamento centralizá-lo:"
    ),
    "model": "modelo",
    "shift": "deslocamento {value} px",
    "rotation": "rotação {value}°",
    "permuted": (
        "**Pixels embaralhados.** As duas arquiteturas foram treinadas de novo no MNIST com uma permutação fixa "
        "dos 784 pixels (semente {seed}): {scores}. A primeira camada de uma rede densa trata todos os pixels do "
        "mesmo jeito, então embaralhá-los não muda nada que ela possa usar; para a CNN, as vizinhanças deixam de "
        "fazer sentido."
    ),
    "permuted_shorter": " (um treino mais curto: {epochs} épocas, não {committed})",
    "permuted_unmeasured": "**Pixels embaralhados:** não medido para estes pesos.",
    "robustness_figure": "Acurácia com deslocamento e rotação",
    "mistakes_heading": "### Erros no conjunto de teste (clique em um para ver a explicação acima)",
    "mistakes_kind": "Mostrar os dígitos de teste em que",
    "mistakes": "Erros",
    "only_cnn_right": "só a CNN acertou",
    "only_linear_right": "só a rede densa acertou",
    "both_wrong": "as duas erraram",
    "cnn_mistakes": "todos os erros da CNN",
    "linear_mistakes": "todos os erros da rede densa",
    "mistake_caption": "teste nº {index}: {label}; CNN {cnn}, densa {linear}",
    "no_such_mistake": "Esse item da galeria não existe; escolha um dígito da galeria.",
    "compare": "Como os dois modelos se comparam",
    "compare_header": (
        "| modelo | parâmetros | acurácia | perda | avaliado em (MNIST) | treino em uma CPU de 2 núcleos "
        "| latência por imagem (neste servidor) |"
    ),
    "epochs": "{epochs} épocas, {time}",
    "minutes": "{minutes:.0f} min",
    "hours": "{hours:.1f} h",
    "not_on_this_page": "fora desta página",
    "images_test": "{count:,} imagens de teste",
    "images_validation": "{count:,} imagens de validação",
    "curves_figure": "Acurácia e perda por época",
    "confusion": "**Matriz de confusão: {model}**",
    "honesty": (
        "**Cada modelo sabe quando não sabe?** Um modelo que diz 90% deveria acertar 9 vezes em 10: o erro de "
        "calibração é a diferença entre as duas coisas, antes e depois de as certezas de cada modelo serem "
        "suavizadas ou acentuadas para dígitos com que ele não foi treinado. A nota de dígito separa um desenho "
        "que ele conhece de uma letra, um rabisco ou uma garatuja (AUROC: 1,0 sempre separa, 0,5 é cara ou coroa)."
    ),
    "honesty_header": (
        "| modelo | erro de calibração (teste do MNIST) | AUROC, dígitos vs. não dígitos | não dígitos marcados "
        "| dígitos de teste do MNIST marcados | escrita à mão marcada |"
    ),
    "the_studio": "o estúdio (qualquer modelo)",
    "honesty_figure": "Certeza vs. frequência de acerto, e a nota de dígito em dígitos e não dígitos",
    "no_digit": (
        "Nenhum dígito encontrado: desenhe ou envie um dígito escuro em fundo claro (ou um claro em fundo escuro)."
    ),
    "no_image": "Nenhum dígito encontrado: nenhuma imagem foi enviada. Envie um arquivo ({formats}).",
    "not_an_image": "Este app não consegue ler esse arquivo como imagem: use {formats}.",
    "too_large": "Essa imagem passa do limite de {megapixels} megapixels; envie uma menor, por favor.",
    "too_large_in_all": "Esse desenho passa do limite de {megapixels} megapixels ao todo; envie um menor, por favor.",
    "damaged": "Esse arquivo de imagem está danificado ou incompleto; envie de novo, por favor.",
    "server_fault": "Algo deu errado do nosso lado; tente de novo, por favor.",
}

TABLES = {ENGLISH: EN, PORTUGUESE: PT_BR}


class Formatter(string.Formatter):
    """str.format, with numbers written as the language writes them."""

    def __init__(self, language: str):
        self.language = language

    def format_field(self, value, format_spec: str) -> str:
        written = format(value, format_spec)
        if self.language == PORTUGUESE and isinstance(value, int | float) and not isinstance(value, bool):
            return written.translate(DECIMAL_COMMA)
        return written


DECIMAL_COMMA = str.maketrans({".": ",", ",": "."})
FORMATTERS = {language: Formatter(language) for language in LANGUAGES}


def text(key: str, language: str = ENGLISH, **values) -> str:
    """The string `key` in `language` (English where that table lacks it), its placeholders filled with values."""
    table = TABLES.get(language, EN)
    template = table.get(key, EN[key])
    if not values:
        return template
    return FORMATTERS[language if key in table else ENGLISH].format(template, **values)


def every_language(*keys: str) -> dict[str, dict[str, str]]:
    """Those strings in every language, for the page's scripts to choose from: {language: {key: text}}."""
    return {language: {key: text(key, language) for key in keys} for language in LANGUAGES}


def language(accept_language: str | None = None, chosen: str | None = None) -> str:
    """The page's language: `chosen` (the page's switch) if given, else the visitor's first language in an
    Accept-Language header; Portuguese for any Portuguese, English for anything else."""
    wanted = chosen or first_language(accept_language or "")
    return PORTUGUESE if re.match(r"pt(-|$)", wanted.strip().lower()) else ENGLISH


def first_language(accept_language: str) -> str:
    """The tag an Accept-Language header prefers most ("pt-BR,pt;q=0.9,en;q=0.8": pt-BR)."""
    ranked = []
    for position, entry in enumerate(accept_language.split(",")):
        tag, _, quality = entry.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            weight = 0.0
        ranked.append((-weight, position, tag.strip()))
    return min(ranked)[2] if ranked else ""


def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def pattern(template: str) -> re.Pattern:
    """An English template as a regular expression that matches its messages, each placeholder a named group."""
    parts = []
    for literal, field, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(f"(?P<{field}>.+?)")
    return re.compile("".join(parts) + "$", re.DOTALL)


# The studio's messages (errors and refusals), as the English side of the API words them
MESSAGES = (
    "no_digit", "no_image", "not_an_image", "too_large", "too_large_in_all", "damaged", "server_fault",
    "no_answer", "models_disagree", "corrections_off", "number_no_answer", "number_read_differently",
    "number_type_digits", "no_such_mistake", "correction_label", "correction_flood", "correction_day",
    "correction_busy", "correction_busy_day", "correction_full", "correction_storage", "correction_too_large",
)  # fmt: skip
PATTERNS = {key: pattern(EN[key]) for key in MESSAGES}


def translate(message: str, language: str) -> str:
    """One of the studio's English messages (MESSAGES, as text() words them) in `language`; any other message as it
    is."""
    if language == ENGLISH:
        return message
    for key, found in PATTERNS.items():
        match = found.match(message)
        if match:
            return text(key, language, **{name: number_in(value) for name, value in match.groupdict().items()})
    return message


def number_in(value: str) -> int | str:
    """A whole number as English writes it ("20,000") back as a number, for another language to write; else as is."""
    return int(value.replace(",", "")) if re.fullmatch(r"\d{1,3}(,\d{3})*", value) else value
